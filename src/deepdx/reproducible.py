"""Same seed, same bits, on any x86-64 machine: the numeric libraries' CPU code paths, pinned.

PyTorch's and NumPy's maths libraries pick their kernels by the CPU they find (AVX-512 on
one machine, AVX2 on the next), and different kernels add up in different orders.  Measured
here: one 2-epoch training gave four different ``generator.pt`` files with the machine's own
choice, with ``MKL_CBWR=AVX2``, with ``ONEDNN_MAX_CPU_ISA=AVX2`` and with all pins; the
thread count matters as well (training sets ``train.threads``).  So before those libraries
load, each is pinned to its AVX2 path, which every x86-64 CPU of the last decade has:
MKL (torch's matrix products), oneDNN (torch's convolutions), ATen's vector kernels and
OpenBLAS (NumPy, SciPy).  Cost: about a fifth of training throughput (bench/train_throughput.py).

``deepdx/__init__`` calls :func:`pin`, so importing any deepdx module before numpy or torch
(which loads numpy) is enough: OpenBLAS reads its variable when it loads; a
variable already set in the environment is kept, and ``DEEPDX_NATIVE_CPU=1`` skips pinning
(faster, but the bits then depend on the machine).  :func:`unpinned` tells which libraries
loaded before the pins could act.
"""

from __future__ import annotations

import os
import platform
import sys

PINS = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"}


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:  # not Linux: every x86-64 Mac and PC of the last decade has AVX2
        return True


def wanted() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64") and not os.environ.get("DEEPDX_NATIVE_CPU") and _has_avx2()


def pin() -> None:
    if wanted():
        for key, value in PINS.items():
            os.environ.setdefault(key, value)


def unpinned() -> list[str]:
    """The loaded libraries that run on other code paths than the pinned ones."""
    if not wanted():
        return []
    out = []
    if "torch" in sys.modules and sys.modules["torch"].backends.cpu.get_cpu_capability() != "AVX2":
        out.append("torch (ATen kernels: import deepdx before torch)")
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_info

        if any(
            i.get("internal_api") == "openblas" and i.get("architecture") != PINS["OPENBLAS_CORETYPE"]
            for i in threadpool_info()
        ):
            out.append("numpy/scipy (OpenBLAS kernels: import deepdx before numpy)")
    return out
