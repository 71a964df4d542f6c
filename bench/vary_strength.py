"""Measure: how far `deepdx vary`'s variations move from their voice as the strength grows.

    python bench/vary_strength.py [MODELS_DIR] [SPLIT_DIR] [--out docs/vary_strength.png]

For 48 validation voices (8 per group, each with its own category) and each strength, 32
variations from the group's flow; prints the mean normalised distance to the source voice,
the share of variations that equal it, the mean distance between the variations, and the time
to make one bank of 32 at that strength; plots distance against strength.  Also times a fresh
bank of 32 (target: under a second).  The models must be
flows (`dvc exp run -S model=flow`, or `python pipeline/train.py model=flow`).
"""

import argparse
import time

import numpy as np
import torch

from deepdx.corpus.split import group_path
from deepdx.corpus.table import read_table
from deepdx.distances import mean_pairwise, normalise
from deepdx.generate.sample import load_models
from deepdx.generate.variations import flow_only

STRENGTHS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="?", default="data/models")
    ap.add_argument("split", nargs="?", default="data/split")
    ap.add_argument("--out", default=None, help="a PNG of distance against strength")
    args = ap.parse_args()
    models = load_models(args.models, f"{args.split}/routing.json")
    flow_only(models, "this measure")
    rng = np.random.default_rng(0)
    sources = []
    for g in range(len(models.generators)):
        table = read_table(group_path(args.split, "validation", g))
        for i in rng.choice(len(table["params"]), 8, replace=False):
            sources.append((g, table["params"][i], int(table["category"][i])))
    rows = []
    for strength in STRENGTHS:
        distance, same, spread, seconds = [], [], [], []
        for j, (g, voice, category) in enumerate(sources):
            t = time.perf_counter()
            made = models.generators[g].vary(voice, category, strength, 32, torch.Generator().manual_seed(j))
            seconds.append(time.perf_counter() - t)
            x = normalise(made)
            distance.append(np.linalg.norm(x - normalise(voice[None]), axis=1).mean())
            same.append((made == voice[: made.shape[1]]).all(1).mean())
            spread.append(mean_pairwise(x))
        rows.append((strength, np.mean(distance), np.mean(same), np.mean(spread), np.median(seconds)))
    timings = []
    for j in range(20):  # a fresh bank of 32: what generation asks of a flow
        g = j % len(models.generators)
        category = torch.arange(32) % len(models.categories)
        algorithm = torch.full((32,), models.routing["groups"][g][0] - 1)
        t = time.perf_counter()
        models.generators[g].sample(category, algorithm, torch.Generator().manual_seed(j))
        timings.append(time.perf_counter() - t)
    print(f"a fresh bank of 32 voices from a flow: median {np.median(timings):.3f} s, slowest {max(timings):.3f} s")
    print("| strength | distance to the voice | equal to it | distance between variations | s per bank |")
    print("| --- | --- | --- | --- | --- |")
    for s, d, e, p, sec in rows:
        print(f"| {s:g} | {d:.3f} | {e:.2f} | {p:.3f} | {sec:.3f} |")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="o", label="to the voice")
        ax.plot([r[0] for r in rows], [r[3] for r in rows], marker="s", label="between variations")
        ax.set_xlabel("strength (0: the voice, 1: a fresh draw of its category)")
        ax.set_ylabel("mean distance (normalised parameters)")
        ax.set_title(f"deepdx vary: {len(sources)} validation voices, 32 variations each")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=100)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
