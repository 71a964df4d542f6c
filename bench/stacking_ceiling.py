"""Benchmark: the most that training the six groups in one stacked step could gain.

    python bench/stacking_ceiling.py [SPLIT_DIR] [--group 1] [--steps 20] [--repeats 5]

A stacked step (the groups' weights stacked, ``torch.func.vmap`` or grouped matrix
products) does a batch of each group's voices through each group's own weights.  It can do
no better than one model's step on the groups' voices together: that has the same
arithmetic, but one set of weights where the stacked step keeps k (spectral norm, Adam and
the moving average run once per weight).  So the time of one step at k batches, against k
steps at one batch, bounds what stacking k groups could gain:

* ``3 per process``: the train stage's two one-thread processes, each stacking its three
  groups (one thread, a 3-batch step against three steps);
* ``6 in one process``: all six in one process on both cores (two threads, a 6-batch step,
  against the two processes' three steps each).

The step is the train stage's (``group``'s model, ``train.precision``, the default
config), timed in one process alone (median of ``repeats`` timings of ``steps`` steps).
"""

import argparse
import json
import os
import statistics
import sys
import time


def ms_per_step(split: str, group: int, batch: int, threads: int, steps: int, repeats: int) -> float:
    import torch

    from deepdx.config import compose
    from deepdx.models import precision
    from deepdx.models.probed import without_lightning
    from deepdx.models.train import group_module

    torch.set_num_threads(threads)
    cfg = compose(f"train.batch_size={batch}")
    n_classes = len(json.load(open(os.path.join(split, "routing.json")))["categories"])
    torch.manual_seed(group)
    module, data = group_module(cfg, split, group, n_classes, seed=group)
    module = without_lightning(module)
    batches = list(data.train_dataloader())
    times = []
    with precision.autocast(cfg.train.precision):
        for i in range(5):  # warm-up
            module.training_step(batches[i % len(batches)], i)
        for _ in range(repeats):
            t = time.perf_counter()
            for i in range(steps):
                module.training_step(batches[i % len(batches)], i)
            times.append((time.perf_counter() - t) / steps * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("split", nargs="?", default="data/split", help="the split stage's folder (data/split)")
    ap.add_argument("--group", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20, help="steps per timing")
    ap.add_argument("--repeats", type=int, default=5, help="timings; the median is printed")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.split, "routing.json")):
        sys.exit(f"{args.split}: no split stage output here (run dvc repro split, or name the folder)")
    from deepdx.config import compose

    b = compose().train.batch_size
    time_of = {
        (k, threads): ms_per_step(args.split, args.group, k * b, threads, args.steps, args.repeats)
        for k, threads in ((1, 1), (3, 1), (6, 2))
    }
    print(f"group {args.group}, batch {b}; ms per step, medians of {args.repeats} x {args.steps} steps\n")
    print("| step | threads | ms | six groups' steps now | ceiling of stacking |")
    print("| --- | --- | --- | --- | --- |")
    one = time_of[(1, 1)]
    print(f"| batch {b} (today's step) | 1 | {one:.1f} | | |")
    for (k, threads), ms in time_of.items():
        if k == 1:
            continue
        now = 3 * one  # two processes side by side, three groups each: three steps of wall time
        label = "3 per process" if threads == 1 else "6 in one process"
        print(f"| batch {k * b} ({label}) | {threads} | {ms:.1f} | {now:.1f} | {now / ms:.2f}x |")


if __name__ == "__main__":
    main()
