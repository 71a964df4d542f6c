"""Train one algorithm group's CGAN: seeded, resumable, tracked in MLflow.

Outputs in ``out_dir``: ``generator.pt`` (weights and what generation needs; load it with
:func:`deepdx.models.nets.load_generator`), ``summary.json``, and ``ckpt/`` with the
Lightning checkpoint of the last epoch written (``train.checkpoint_every``).  An interrupted
run resumes from ``ckpt/last.ckpt``, into the same MLflow run, when the fingerprint (config, data,
code, library versions) matches, and ends with the same weights, bit for bit, as an uninterrupted run.  A finished
run is never resumed: when a train stage reruns, something it depends on changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.loggers import MLFlowLogger

from ..config import Config, TrainConfig, as_dict
from ..corpus.encoding import encode, with_names
from ..corpus.split import group_path
from ..corpus.table import write_csv, write_json
from ..dx7.packing import encode_name
from ..dx7.sysex import write_bank
from ..files import replacing
from ..tracking import ensure_experiment, tracking_uri
from .calibrate import calibrate, grid
from .cgan import CGAN
from .flow_matching import FlowMatching
from .codec import spikes_of
from .data import GroupDataModule, load_group
from .diagnostics import CollapseProbe
from . import precision
from .nets import VoiceGenerator
from .probed import Probed


CODE = Path(__file__).resolve().parents[1]  # the deepdx package
NOT_WEIGHTS = (
    "jobs",
    "groups",
    "progress_bar",
    "checkpoint_every",
)  # train.* keys that change how a run goes, not its weights


def fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The deepdx sources and the versions of the libraries that compute the weights."""
    h = hashlib.sha256(f"{torch.__version__} {pl.__version__} {np.__version__}".encode())
    for path in sorted(CODE.rglob("*.py")):
        h.update(path.relative_to(CODE).as_posix().encode() + path.read_bytes())
    return h.hexdigest()[:16]


class EpochCheckpoint(Checkpoint):
    """Writes ``path`` at the end of the first and the last epoch, and of any epoch ``every``
    seconds or more after the previous write (0: every epoch), atomically: a run killed at any
    moment leaves the previous checkpoint intact to resume from, and loses at most ``every``
    seconds of training (a 35 MB write of every epoch took about 20 s of a full run's 23 min).  A
    ``Checkpoint`` callback, so Lightning calls it after the module's own end-of-epoch work (the
    probe, the best epoch so far)."""

    def __init__(self, path: Path, every: float = 0.0):
        self.path, self.every = Path(path), every
        self.written = -math.inf  # time.monotonic() of the last write

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        last = trainer.should_stop or trainer.current_epoch + 1 >= trainer.max_epochs
        if not last and time.monotonic() - self.written < self.every:
            return
        with replacing(self.path) as partial:
            trainer.save_checkpoint(partial, weights_only=False)  # optimiser states too: resume exactly
        self.written = time.monotonic()


def epochs_for(train: TrainConfig, voices: int) -> int:
    """``train.steps`` batches (times ``voices / train.scale_steps_above`` for a group larger than
    that) as whole epochs of this group's ``voices`` training voices; ``train.epochs`` when
    ``train.steps`` is null."""
    if train.steps is None:
        return train.epochs
    steps = train.steps
    if train.scale_steps_above is not None and voices > train.scale_steps_above:
        steps = round(steps * voices / train.scale_steps_above)
    return max(1, math.ceil(steps / max(1, voices // train.batch_size)))


def flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def sample_bank(generator: VoiceGenerator, categories: list[str], algorithms: list[int], seed: int) -> np.ndarray:
    """32 voices, four per category (cycled), algorithms drawn from the group's, named CATEGORY NN."""
    category = torch.arange(32) % len(categories)
    algorithm = torch.from_numpy(np.random.default_rng(seed).choice(np.array(algorithms) - 1, 32))
    sound = generator.sample(category, algorithm, torch.Generator().manual_seed(seed))
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


PROBE_FIELDS = ["epoch", "precision", "recall", "density", "coverage", "balanced", "memorisation", "diversity"]


def probe_plot(path: Path, history: list[dict], kept_epoch: int, group: int) -> None:
    """Validation precision, recall, density and coverage over the epochs, the kept one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    epochs = [h["epoch"] for h in history]
    for key in ("precision", "recall", "density", "coverage", "balanced"):
        ax.plot(epochs, [h.get(key, np.nan) for h in history], label=key, linewidth=2 if key == "balanced" else 1.2)
    if kept_epoch >= 0:
        ax.axvline(kept_epoch, color="grey", linestyle=":", label=f"kept (epoch {kept_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.6)
    ax.set_title(f"group {group}: the generator against its validation voices")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def group_module(cfg: Config, split_dir: str, group: int, n_classes: int, seed: int) -> tuple[Probed, GroupDataModule]:
    """Group ``group``'s LightningModule of ``cfg.model``'s family, untrained, and its data, set up."""
    m, spikes = cfg.model, ()
    if m.arch != "conv" and m.family == "cgan":  # the training voices' spikes shape the heads (gates and all)
        voices = load_group(split_dir, "train", group, cfg.train.limit, seed)["params"]
        spikes = spikes_of(voices, m.max_choices, tuple(m.choices), m.spike_share)
    module = (FlowMatching if m.family == "flow" else CGAN).from_config(cfg, n_classes, seed, spikes)
    data = GroupDataModule(split_dir, group, module.codec, cfg.train.batch_size, cfg.train.limit, seed)
    data.setup()
    return module, data


def train_group(
    group: int,
    split_dir: str,
    out_dir: str,
    cfg: Config,
    categories: list[str],
    algorithms: list[int],
    tags: dict | None = None,
    callbacks: list | None = None,
    run_name: str | None = None,
    reuse_finished: bool = False,
) -> dict:
    """Train group ``group`` of the split stage's output (its train split; the probe on its
    validation split) with ``cfg.model``, ``cfg.train``, ``cfg.encoding`` and ``cfg.seed``
    (+ group); ``callbacks``: more Lightning callbacks; ``run_name``: the MLflow run's name
    (default ``group<g>``).  With ``reuse_finished`` (sweeps), a run that already finished in
    ``out_dir`` with the same config, data and code is not trained again: its summary is returned."""
    model, train = as_dict(cfg.model), as_dict(cfg.train)
    layout, seed = cfg.encoding.layout, cfg.seed + group
    out = Path(out_dir)
    ckpt_dir = out / "ckpt"
    # what the checkpoint was trained on: a resumed run must have the same config, data and code
    data_md5 = [hashlib.md5(group_path(split_dir, s, group).read_bytes()).hexdigest() for s in ("train", "validation")]
    weights = {k: v for k, v in train.items() if k not in NOT_WEIGHTS}
    print_fp = fingerprint(
        {
            "model": model,
            "train": weights,
            "layout": layout,
            "seed": seed,
            "data": data_md5,
            "categories": categories,
            "algorithms": algorithms,
            "code": code_version(),
        }
    )
    same = (ckpt_dir / "fingerprint").exists() and (ckpt_dir / "fingerprint").read_text() == print_fp
    if reuse_finished and same and (ckpt_dir / "finished").exists() and (out / "summary.json").exists():
        return {**json.loads((out / "summary.json").read_text()), "reused": True}
    resume = None
    if (ckpt_dir / "last.ckpt").exists() and not (ckpt_dir / "finished").exists() and same:
        resume = str(ckpt_dir / "last.ckpt")
    else:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / "fingerprint").write_text(print_fp)

    torch.set_num_threads(cfg.train.threads)  # on CPU the weights depend on it (see TrainConfig)
    pl.seed_everything(seed, workers=True, verbose=False)
    flow = cfg.model.family == "flow"
    module, data = group_module(cfg, split_dir, group, len(categories), seed)
    module.probe_every = cfg.train.probe_every
    module.probe = CollapseProbe(
        data.validation["params"], data.validation["category"], data.train["params"], data.train["category"], seed=seed
    )

    uri, experiment = tracking_uri(cfg.mlflow.tracking_uri), cfg.mlflow.experiment
    ensure_experiment(experiment, uri)
    run_id_file = ckpt_dir / "mlflow_run_id"
    logger = MLFlowLogger(
        experiment_name=experiment,
        run_name=run_name or f"group{group}",
        tracking_uri=uri,
        tags={"group": str(group), "algorithms": str(algorithms), **(tags or {})},
        run_id=run_id_file.read_text() if resume and run_id_file.exists() else None,
    )
    run_id_file.write_text(logger.run_id)
    max_epochs = epochs_for(cfg.train, len(data.train["params"]))
    if not resume:  # the group's own length too: train.steps is scaled for a large group
        logger.log_hyperparams(
            {
                **flatten({"model": model, "train": train}),
                "encoding.layout": layout,
                "seed": seed,
                "group": group,
                "train_voices": len(data.train["params"]),
                "max_epochs": max_epochs,
                "precision_used": precision.used(cfg.train.precision),
            }
        )

    trainer = pl.Trainer(
        max_epochs=max_epochs,
        accelerator="auto",
        devices=1,
        deterministic=True,
        precision=precision.lightning(cfg.train.precision),
        logger=logger,
        log_every_n_steps=10,
        enable_model_summary=False,
        callbacks=[EpochCheckpoint(ckpt_dir / "last.ckpt", cfg.train.checkpoint_every), *(callbacks or [])],
        enable_progress_bar=cfg.train.progress_bar,
    )
    trainer.fit(module, data, ckpt_path=resume)
    (ckpt_dir / "finished").write_text(str(trainer.current_epoch))

    module.cpu().eval()
    exported = module.export()
    generator = module.voice_generator(exported["generator"])
    c = cfg.train.calibrate  # how the kept generator samples, chosen on validation voices too
    best, calibration = calibrate(generator, module.probe, grid(c, flow), c.draws, seed)
    for knob in ("temperature", "truncation", "guidance"):
        if knob in best:
            setattr(generator, knob, best[knob])
    exported["sampling"] = generator.sampling()
    torch.save(exported, out / "generator.pt")
    bank = sample_bank(generator, categories, algorithms, seed)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics.update({f"probe/{k}": v for k, v in module.best.get("metrics", {}).items()})  # the kept epoch's
    sampled = {f"sampled/{k}": v for k, v in best.items()}  # the validation figures as generation samples
    logger.log_metrics(sampled)
    summary = {
        "group": group,
        "algorithms": algorithms,
        "epochs": trainer.current_epoch,
        "batches": trainer.current_epoch * trainer.num_training_batches,  # the steps this group trained
        "kept_epoch": exported["epoch"],
        "selected_by": cfg.train.select,
        "precision": precision.used(cfg.train.precision),
        "train_voices": int(len(data.train["params"])),
        "mlflow_run_id": logger.run_id,
        **metrics,
        **sampled,
        "calibration": calibration,
    }
    write_json(out / "summary.json", summary)
    write_csv(out / "probe.csv", [{k: h.get(k, "") for k in PROBE_FIELDS} for h in module.history], PROBE_FIELDS)
    with tempfile.TemporaryDirectory() as tmp:
        probe_plot(Path(tmp) / f"group{group}_probe.png", module.history, exported["epoch"], group)
        write_bank(Path(tmp) / f"group{group}_sample.syx", bank)
        grid_image(Path(tmp) / f"group{group}_grids.png", data.train["params"][:8], bank[:8], layout)
        for path in Path(tmp).iterdir():
            logger.experiment.log_artifact(logger.run_id, str(path))
    return summary
