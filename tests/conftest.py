"""Shared fixtures.  Real-corpus tests skip, saying why, when ../shared/corpus is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from deepdx.config import compose
from deepdx.dx7.params import uniform_voices

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
    return uniform_voices(n, seed)


@pytest.fixture(scope="session")
def corpus_or_random() -> np.ndarray:
    """Real voices when the corpus is here (first 2,000 of compact.bin, valid ones), else random ones."""
    path = CORPUS / "dx7" / "compact.bin"
    if not path.exists():
        return random_voices(2000)
    from deepdx.dx7 import apply_policy, unpack

    d = unpack(np.frombuffer(path.read_bytes()[: 128 * 2000], np.uint8))
    verdict = apply_policy(d, "mask")
    return verdict.params[verdict.accepted]


def cgan(*overrides: str, n_classes: int = 8, seed: int = 0):
    """A CGAN built from the composed config (e.g. cgan("model=seed", "model.channels=16"))."""
    from deepdx.models.cgan import CGAN

    return CGAN.from_config(compose(*overrides), n_classes, seed)
