"""Distances between voices, said once: the probe during training and the evaluation both use them.

Voices are compared in normalised parameter space: each of the 145 sound parameters divided
by its maximum, so every parameter spans [0, 1] (Euclidean distance).  PRDC is the authors'
``prdc`` package (Naeem et al. 2020).
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

from .dx7.params import MAX, N_SOUND_PARAMS

_SCALE = MAX[:N_SOUND_PARAMS].astype(np.float64)


def normalise(sound: np.ndarray) -> np.ndarray:
    """N x 145 (or N x 155) parameters -> N x 145 float64 in [0, 1]."""
    return np.asarray(sound)[:, :N_SOUND_PARAMS] / _SCALE


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """len(a) x len(b) Euclidean distances."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))


def nearest(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Distance from each row of a to its nearest row of b."""
    return np.concatenate([pairwise(a[i:i + chunk], b).min(1) for i in range(0, len(a), chunk)])


def nearest_other(x: np.ndarray, k: int = 1) -> np.ndarray:
    """Distance of each row to its k-th nearest other row of the same set."""
    d = pairwise(x, x)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def mean_pairwise(x: np.ndarray) -> float:
    """Mean distance between two different rows (nan for fewer than two)."""
    n = len(x)
    return float(pairwise(x, x).sum() / (n * (n - 1))) if n > 1 else float("nan")


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage of ``fake`` against ``real`` (both already features)."""
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints its set sizes
        out = compute_prdc(real, fake, k)
    return {key: float(v) for key, v in out.items()}
