"""The training step's number format (``train.precision``): float32, or bfloat16 autocast
where the hardware multiplies bfloat16 natively.

Under ``bf16`` the matrix products of a training step run in bfloat16 (weights, optimiser
states and the exported generator stay float32; Lightning's ``bf16-mixed``).  On a CPU with
AVX512-BF16 or AMX that is about twice the float32 matrix-product peak
(``bench/train_speed.py``); elsewhere bfloat16 is emulated and slower than float32, so
training falls back to float32 there and says so.  Generation and evaluation are float32
whatever the setting.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def bf16_native() -> bool:
    """Whether this machine's training device multiplies bfloat16 natively."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"}) and torch.backends.mkldnn.is_available()


def used(asked: str) -> str:
    """The precision training runs at when ``asked`` for (one of ``deepdx.config.PRECISIONS``)."""
    return "bf16" if asked == "bf16" and bf16_native() else "32"


def lightning(asked: str) -> str:
    """Lightning's ``Trainer(precision=...)`` for ``asked``."""
    return {"bf16": "bf16-mixed", "32": "32-true"}[used(asked)]


def autocast(asked: str):
    """The training step's context outside Lightning (benchmarks): what ``bf16-mixed`` does."""
    if used(asked) == "bf16":
        return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16)
    return nullcontext()
