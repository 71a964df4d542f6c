"""Stage train: one category-conditioned GAN per algorithm group (train.groups), tracked in MLflow.

Under DVC it is one stage for every group; the groups train train.jobs at a time, each in a
process of its own (deepdx.models.parallel).  By hand it is a Hydra app, so a sweep is a
multirun whose jobs write under multirun/ and land in MLflow side by side:
    python pipeline/train.py -m model.kernel_size=2,4 model.layers=2,3 train.groups=[1]
Each job returns the mean validation ``balanced`` score of its kept epochs (what the Optuna
sweeper maximises).  Launched again into the same sweep folder, finished jobs are not
trained again and interrupted ones resume from their checkpoints.
"""

import json
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig

from deepdx.models.parallel import train_groups
from deepdx.sweeps.jobs import run_name, swept_keys, tag
from deepdx.config import Config
from deepdx.stage import in_sweep, stage


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@stage
def main(cfg: Config) -> float:
    routing = json.loads(Path(cfg.data.split, "routing.json").read_text())
    hc = HydraConfig.get()
    sweep = in_sweep()
    if sweep:  # each job in its own folder, its runs named by its overrides and tagged with the sweep
        models = Path(hc.runtime.output_dir) / "models"
        tags = {"sweep": str(hc.sweep.dir), "overrides": tag(hc.overrides.task)}
        name = run_name(hc.overrides.task, swept_keys(hc.sweep.dir, hc.sweeper.get("params")))
    else:
        models = Path(cfg.data.models)
        tags = {"dvc_exp": os.environ.get("DVC_EXP_NAME", "")}
        name = None
    summaries = train_groups(
        list(cfg.train.groups), cfg.data.split, models, cfg, routing, tags=tags, run_name=name, reuse_finished=sweep
    )
    balanced = []
    for g, summary in zip(cfg.train.groups, summaries):
        balanced.append(summary.get("sampled/balanced", summary.get("probe/balanced", 0.0)))
        print(
            f"group {g}: {'already trained in this sweep folder, ' if summary.get('reused') else ''}"
            f"{summary['epochs']} epochs, kept {summary['kept_epoch']}, "
            f"validation balanced {summary.get('probe/balanced', 0):.3f}, "
            f"coverage {summary.get('probe/coverage', 0):.3f}, "
            f"near-dup rate {summary.get('probe/near_dup_rate', 0):.3f}; "
            f"sampled at temperature {summary.get('sampled/temperature', 1):g}, truncation "
            f"{summary.get('sampled/truncation', 1):g}: balanced {summary.get('sampled/balanced', 0):.3f}"
        )
    return sum(balanced) / len(balanced)  # what a sweeper maximises: the validation score as generation samples


if __name__ == "__main__":
    main()
