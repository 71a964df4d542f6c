"""Shared fixtures.  Real-corpus tests skip, saying why, when ../shared/corpus is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from deepdx.dx7.params import MAX

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DEEPDX_CORPUS", ROOT.parent / "shared" / "corpus"))
NO_CORPUS = "real DX7 corpus not found at {} (set DEEPDX_CORPUS to its folder)".format(CORPUS)


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "dx7" / "compact.bin").exists():
        pytest.skip(NO_CORPUS)
    return CORPUS


@pytest.fixture(scope="session")
def factory_banks(corpus) -> list[Path]:
    return sorted((corpus / "dx7" / "factory").glob("*.syx"))


def random_voices(n: int, seed: int = 0) -> np.ndarray:
    """n x 155 valid parameter rows (uniform over each range; names printable)."""
    rng = np.random.default_rng(seed)
    params = rng.integers(0, MAX.astype(int) + 1, size=(n, len(MAX))).astype(np.uint8)
    params[:, -10:] = rng.integers(32, 127, size=(n, 10))
    return params
