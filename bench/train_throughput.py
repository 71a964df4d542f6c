"""Benchmark: training throughput of the default CGAN, Lightning vs a plain PyTorch loop
(the same training step, driven without Lightning).

    python bench/train_throughput.py [SPLIT_DIR] [--group 4] [--model default|seed] [--epochs 3] [--set KEY=VALUE ...]

Prints samples/s for both, Lightning's overhead (target < 15 %), and the achieved GFLOP/s
of the training step against this machine's float32 matmul peak.  Without a split folder it
trains on random valid voices.
"""

import argparse
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from deepdx.config import as_dict, compose
from deepdx.corpus.split import group_path
from deepdx.corpus.table import write_table
from deepdx.dx7.params import uniform_voices
from deepdx.models.cgan import CGAN
from deepdx.models.probed import without_lightning
from deepdx.models.data import GroupDataModule

ROOT = Path(__file__).resolve().parents[1]


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("split", nargs="?", help="the split stage's folder (data/split)")
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--model", default="default")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides (model.level_margin=0)")
    args = ap.parse_args()
    cfg = compose(f"model={args.model}", *args.set)
    train = as_dict(cfg.train)
    split, group = args.split, args.group
    if split is None:
        split, group = "/tmp/deepdx_bench_split", 0
        for s, n in (("train", 4096), ("validation", 96)):
            write_table(group_path(split, s, 0), {"params": uniform_voices(n), "category": np.arange(n) % 8})
    data = GroupDataModule(split, group, CGAN.from_config(cfg, 8, 0).codec, train["batch_size"], seed=0)
    data.setup()
    n = len(data.train["params"]) // train["batch_size"] * train["batch_size"]
    print(
        f"model={args.model} {' '.join(args.set)}, {n} training voices, batch {train['batch_size']}, "
        f"{args.epochs} epochs, "
        f"{torch.get_num_threads()} threads"
    )

    # plain PyTorch
    torch.manual_seed(0)
    module = without_lightning(CGAN.from_config(cfg, 8, 0))
    loader = data.train_dataloader()
    t = time.perf_counter()
    for _ in range(args.epochs):
        for i, batch in enumerate(loader):
            module.training_step(batch, i)
    plain = n * args.epochs / (time.perf_counter() - t)

    # Lightning (no logger, checkpoints or probe: the loop itself)
    torch.manual_seed(0)
    module = CGAN.from_config(cfg, 8, 0)
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    t = time.perf_counter()
    trainer.fit(module, data)
    lit = n * args.epochs / (time.perf_counter() - t)

    batch = next(iter(loader))
    # FlopCounterMode cannot follow R1's autograd.grad: the count leaves the penalty's pass out (a floor)
    module = without_lightning(CGAN.from_config(compose(f"model={args.model}", *args.set, "model.r1=0"), 8, 0))
    with FlopCounterMode(display=False) as counter:
        module.training_step(batch, 0)
    flops_per_sample = counter.get_total_flops() / len(batch[0])
    peak = matmul_peak()
    print(f"plain PyTorch loop   {plain:8.0f} samples/s")
    print(f"Lightning            {lit:8.0f} samples/s   overhead {100 * (plain / lit - 1):5.1f} % (target < 15 %)")
    print(
        f"training step, no R1 {flops_per_sample / 1e6:8.2f} MFLOP/sample -> "
        f"{flops_per_sample * lit / 1e9:6.2f} GFLOP/s "
        f"({100 * flops_per_sample * lit / 1e9 / peak:4.1f} % of the {peak:.0f} GFLOP/s float32 matmul peak)"
    )


if __name__ == "__main__":
    main()
