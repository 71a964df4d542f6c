"""Stage train: one category-conditioned GAN per algorithm group (train.groups), tracked in MLflow.

Under DVC each group is its own stage (foreach in dvc.yaml).  By hand it is a Hydra app,
so a sweep is a multirun whose jobs write under multirun/ and land in MLflow side by side:
    python pipeline/train.py -m model.kernel_size=2,4 model.layers=2,3 train.groups=[1]
"""
import json
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from deepdx.models.train import train_group
from deepdx.config import Config
from deepdx.stage import stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> float:
    routing = json.loads(Path(cfg.data.split, "routing.json").read_text())
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        models = Path(hc.runtime.output_dir) / "models"
        tags = {"sweep": str(hc.sweep.dir), "overrides": " ".join(hc.overrides.task)}
    else:
        models = Path(cfg.data.models)
        tags = {"dvc_exp": os.environ.get("DVC_EXP_NAME", "")}
    coverage = []
    for g in cfg.train.groups:
        summary = train_group(g, cfg.data.split, str(models / f"group{g}"), cfg,
                              routing["categories"], routing["groups"][g], tags)
        coverage.append(summary.get("probe/coverage", 0.0))
        print(f"group {g}: {summary['epochs']} epochs, d_loss {summary.get('d_loss', float('nan')):.3f}, "
              f"g_loss {summary.get('g_loss', float('nan')):.3f}, coverage {summary.get('probe/coverage', 0):.3f}, "
              f"near-dup rate {summary.get('probe/near_dup_rate', 0):.3f}")
    return sum(coverage) / len(coverage)  # what a sweeper would maximise


if __name__ == "__main__":
    main()
