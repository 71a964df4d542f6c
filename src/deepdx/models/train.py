"""Train one algorithm group's CGAN: seeded, resumable, tracked in MLflow.

Outputs in ``out_dir``: ``generator.pt`` (weights and what generation needs; load it with
:func:`deepdx.models.nets.load_generator`), ``summary.json``, and ``ckpt/`` with the
Lightning checkpoint of every epoch.  An interrupted run resumes from ``ckpt/last.ckpt``,
into the same MLflow run, when the fingerprint (config, data, code, library versions)
matches, and ends with the same weights, bit for bit, as an uninterrupted run.  A finished
run is never resumed: when a train stage reruns, something it depends on changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import MLFlowLogger

from ..config import Config, as_dict
from ..corpus.encoding import encode, with_names
from ..corpus.split import group_path
from ..corpus.table import write_json
from ..dx7.packing import encode_name
from ..dx7.params import INDEX
from ..dx7.sysex import write_bank
from ..tracking import ensure_experiment, tracking_uri
from .cgan import CGAN
from .data import GroupDataModule
from .diagnostics import CollapseProbe


CODE = Path(__file__).resolve().parents[1]  # the deepdx package


def fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The deepdx sources and the versions of the libraries that compute the weights."""
    h = hashlib.sha256(f"{torch.__version__} {pl.__version__} {np.__version__}".encode())
    for path in sorted(CODE.rglob("*.py")):
        h.update(path.relative_to(CODE).as_posix().encode() + path.read_bytes())
    return h.hexdigest()[:16]


class EpochCheckpoint(Callback):
    """Writes ``path`` after every epoch, atomically: a run killed at any moment leaves the
    previous epoch's checkpoint intact to resume from."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        trainer.save_checkpoint(partial)
        os.replace(partial, self.path)


def flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def sample_bank(module: CGAN, categories: list[str], algorithms: list[int], seed: int) -> np.ndarray:
    """32 voices, four per category (cycled), algorithm snapped into the group, named CATEGORY NN."""
    category = torch.arange(32) % len(categories)
    sound = module.sample(category, torch.Generator().manual_seed(seed))
    alg = sound[:, INDEX["algorithm"]].astype(int) + 1
    allowed = np.array(algorithms)
    sound[:, INDEX["algorithm"]] = allowed[np.abs(allowed[None, :] - alg[:, None]).argmin(1)] - 1
    names = np.stack([encode_name(f"{categories[c][:7].upper()} {i:02d}") for i, c in enumerate(category.tolist())])
    return with_names(sound, names)


def grid_image(path: Path, real: np.ndarray, fake: np.ndarray, layout: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("real", encode(real, layout)), ("generated", encode(fake, layout))]
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for r, (label, grids) in enumerate(rows):
        for j in range(8):
            axes[r, j].imshow(grids[j], cmap="magma", vmin=-1, vmax=1)
            axes[r, j].set_xticks([])
            axes[r, j].set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_group(group: int, split_dir: str, out_dir: str, cfg: Config, categories: list[str],
                algorithms: list[int], tags: dict | None = None, callbacks: list | None = None) -> dict:
    """Train group ``group`` of the split stage's output (its train split; the probe on its
    validation split) with ``cfg.model``, ``cfg.train``, ``cfg.encoding`` and ``cfg.seed``
    (+ group); ``callbacks``: more Lightning callbacks."""
    model, train = as_dict(cfg.model), as_dict(cfg.train)
    layout, seed = cfg.encoding.layout, cfg.seed + group
    out = Path(out_dir)
    ckpt_dir = out / "ckpt"
    # what the checkpoint was trained on: a resumed run must have the same config, data and code
    data_md5 = [hashlib.md5(group_path(split_dir, s, group).read_bytes()).hexdigest() for s in ("train", "validation")]
    print_fp = fingerprint({"model": model, "train": train, "layout": layout, "seed": seed, "data": data_md5,
                            "categories": categories, "algorithms": algorithms, "code": code_version()})
    resume = None
    if ((ckpt_dir / "last.ckpt").exists() and not (ckpt_dir / "finished").exists()
            and (ckpt_dir / "fingerprint").read_text() == print_fp):
        resume = str(ckpt_dir / "last.ckpt")
    else:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / "fingerprint").write_text(print_fp)

    torch.set_num_threads(cfg.train.threads)  # on CPU the weights depend on it (see TrainConfig)
    pl.seed_everything(seed, workers=True, verbose=False)
    data = GroupDataModule(split_dir, group, layout, cfg.train.batch_size, cfg.train.limit, seed)
    data.setup()
    module = CGAN.from_config(cfg, len(categories), seed)
    module.probe = CollapseProbe(data.validation["params"], data.validation["category"])

    uri, experiment = tracking_uri(cfg.mlflow.tracking_uri), cfg.mlflow.experiment
    ensure_experiment(experiment, uri)
    run_id_file = ckpt_dir / "mlflow_run_id"
    logger = MLFlowLogger(experiment_name=experiment, run_name=f"group{group}", tracking_uri=uri,
                          tags={"group": str(group), "algorithms": str(algorithms), **(tags or {})},
                          run_id=run_id_file.read_text() if resume and run_id_file.exists() else None)
    run_id_file.write_text(logger.run_id)
    if not resume:
        logger.log_hyperparams({**flatten({"model": model, "train": train}), "encoding.layout": layout,
                                "seed": seed, "group": group, "train_voices": len(data.train["params"])})

    trainer = pl.Trainer(max_epochs=cfg.train.epochs, accelerator="auto", devices=1, deterministic=True,
                         logger=logger, log_every_n_steps=10, enable_model_summary=False, enable_checkpointing=False,
                         callbacks=[EpochCheckpoint(ckpt_dir / "last.ckpt"), *(callbacks or [])],
                         enable_progress_bar=cfg.train.progress_bar)
    trainer.fit(module, data, ckpt_path=resume)
    (ckpt_dir / "finished").write_text(str(trainer.current_epoch))

    module.cpu().eval()
    torch.save(module.export(), out / "generator.pt")
    bank = sample_bank(module, categories, algorithms, seed)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    summary = {"group": group, "algorithms": algorithms, "epochs": trainer.current_epoch,
               "train_voices": int(len(data.train["params"])), "mlflow_run_id": logger.run_id, **metrics}
    write_json(out / "summary.json", summary)
    with tempfile.TemporaryDirectory() as tmp:
        write_bank(Path(tmp) / f"group{group}_sample.syx", bank)
        grid_image(Path(tmp) / f"group{group}_grids.png", data.train["params"][:8], bank[:8], layout)
        for path in Path(tmp).iterdir():
            logger.experiment.log_artifact(logger.run_id, str(path))
    return summary
