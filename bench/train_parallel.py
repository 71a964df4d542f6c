"""Benchmark: two groups trained side by side (train.jobs=2, one thread each) against the same
two in turn (train.jobs=1 on two threads, the default before; and on one thread).

    python bench/train_parallel.py [SPLIT_DIR] [--groups 4 0] [--steps 1200]

Prints the wall time of each way and the ratios; the whole train stage takes about what the
six groups take at the chosen setting.  Each run trains into a temporary folder, logging to a
temporary MLflow store.  Without a split folder it trains on random valid voices.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from deepdx.config import compose
from deepdx.corpus.split import group_path
from deepdx.corpus.table import write_table
from deepdx.dx7.params import uniform_voices
from deepdx.models.parallel import train_groups

WAYS = {
    "side by side, 1 thread each (jobs=2)": ("train.jobs=2", "train.threads=1"),
    "in turn, 2 threads (jobs=1)": ("train.jobs=1", "train.threads=2"),
    "in turn, 1 thread (jobs=1)": ("train.jobs=1", "train.threads=1"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("split", nargs="?", help="the split stage's folder (data/split)")
    ap.add_argument("--groups", type=int, nargs="+", default=[4, 0])
    ap.add_argument("--steps", type=int, default=1200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        split, groups = args.split, args.groups
        if split is None:
            split = f"{tmp}/split"
            for g in groups:
                for s, n in (("train", 4096), ("validation", 256)):
                    write_table(group_path(split, s, g), {"params": uniform_voices(n), "category": np.arange(n) % 8})
            routing = {"categories": [f"c{i}" for i in range(8)], "groups": {g: [1, 2] for g in groups}}
        else:
            routing = json.loads(Path(split, "routing.json").read_text())
        print(f"groups {groups}, {args.steps} steps of 64 voices each")
        seconds = {}
        for i, (way, overrides) in enumerate(WAYS.items()):
            cfg = compose(
                f"train.steps={args.steps}",
                "train.scale_steps_above=null",
                "train.progress_bar=false",
                "mlflow.experiment=bench",
                f"mlflow.tracking_uri=sqlite:///{tmp}/mlflow.db",
                *overrides,
            )
            t = time.perf_counter()
            train_groups(groups, split, f"{tmp}/models{i}", cfg, routing)
            seconds[way] = time.perf_counter() - t
            print(f"{way}: {seconds[way]:.1f} s")
        first, *others = seconds
        for way in others:
            print(f"{way} / {first}: {seconds[way] / seconds[first]:.2f}x")


if __name__ == "__main__":
    main()
