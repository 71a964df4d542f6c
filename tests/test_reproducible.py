"""Importing deepdx pins the numeric libraries' CPU code paths (same bits on any x86-64 machine)."""

import os
import subprocess
import sys

import pytest

from deepdx.reproducible import PINS, wanted

SHOW = (
    "import os, {first}\n"
    "from deepdx.reproducible import PINS, unpinned\n"
    "print(torch.backends.cpu.get_cpu_capability(), unpinned(), {{k: os.environ.get(k) for k in PINS}})"
)


def fresh(first="deepdx, torch, numpy", **env):
    clean = {k: v for k, v in os.environ.items() if k not in PINS and k != "DEEPDX_NATIVE_CPU"}
    proc = subprocess.run(
        [sys.executable, "-c", SHOW.format(first=first)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.mark.skipif(not wanted(), reason="pins apply to x86-64 CPUs with AVX2 only")
def test_importing_deepdx_first_pins_every_library():
    assert fresh() == f"AVX2 [] {PINS}"


@pytest.mark.skipif(
    not wanted() or os.environ.get("OPENBLAS_CORETYPE") not in (None, PINS["OPENBLAS_CORETYPE"]),
    reason="pins apply to x86-64 CPUs with AVX2 only",
)
def test_numpy_loaded_before_deepdx_is_reported():
    native = subprocess.run(
        [
            sys.executable,
            "-c",
            "import numpy; from threadpoolctl import threadpool_info; "
            "print({i.get('architecture') for i in threadpool_info()})",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"},
    ).stdout
    if PINS["OPENBLAS_CORETYPE"] in native:
        pytest.skip("this CPU's own OpenBLAS kernels are the pinned ones")
    assert "numpy/scipy (OpenBLAS kernels: import deepdx before numpy)" in fresh("numpy, deepdx, torch")


@pytest.mark.skipif(not wanted(), reason="pins apply to x86-64 CPUs with AVX2 only")
def test_a_setting_from_the_environment_is_kept_and_pinning_can_be_turned_off():
    assert "'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE'" in fresh(ONEDNN_MAX_CPU_ISA="AVX512_CORE")
    native = fresh(DEEPDX_NATIVE_CPU="1")
    assert all(f"'{k}': None" in native for k in PINS)
