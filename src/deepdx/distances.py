"""Distances between voices, said once: the probe during training and the evaluation both use them.

Voices are compared in normalised parameter space: each of the 145 sound parameters divided
by its maximum, so every parameter spans [0, 1] (Euclidean distance).  PRDC follows the
authors' ``prdc`` package (Naeem et al. 2020) with its distances computed here: the package
spreads each distance matrix over 8 joblib workers, which made it 0.2 s of a 0.26 s probe.
"""

from __future__ import annotations

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


def by_chunks(a: np.ndarray, b: np.ndarray, reduce, chunk: int = 2048) -> np.ndarray:
    """``reduce(d, start)`` for the distances ``d`` from ``chunk`` rows of a (from row ``start``)
    to every row of b, one value per row, concatenated: the len(a) x len(b) matrix is never whole."""
    return np.concatenate([reduce(pairwise(a[i : i + chunk], b), i) for i in range(0, len(a), chunk)])


def nearest(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Distance from each row of a to its nearest row of b."""
    return by_chunks(a, b, lambda d, start: d.min(1), chunk)


def own_distances(x: np.ndarray) -> np.ndarray:
    """len(x) x len(x) distances between rows of one set, a row's own distance infinite."""
    d = pairwise(x, x)
    np.fill_diagonal(d, np.inf)
    return d


def kth(d: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th smallest distance (1: the nearest)."""
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def nearest_other(x: np.ndarray, k: int = 1, chunk: int = 2048) -> np.ndarray:
    """Distance of each row to its k-th nearest other row of the same set."""

    def kth_other(d: np.ndarray, start: int) -> np.ndarray:
        rows = np.arange(len(d))
        d[rows, start + rows] = np.inf  # a row's own distance
        return kth(d, k)

    return by_chunks(x, x, kth_other, chunk)


def mean_pairwise(x: np.ndarray) -> float:
    """Mean distance between two different rows (nan for fewer than two)."""
    n = len(x)
    return float(pairwise(x, x).sum() / (n * (n - 1))) if n > 1 else float("nan")


def prdc(
    real: np.ndarray,
    fake: np.ndarray,
    k: int = 5,
    real_radius: np.ndarray | None = None,
    fake_radius: np.ndarray | None = None,
) -> dict[str, float]:
    """Precision, recall, density, coverage of ``fake`` against ``real`` (both already features).
    A point's radius is the distance to its k-th nearest other point of its own set
    (``real_radius``, ``fake_radius``: the radii, when the caller already has them)."""
    real_radius = nearest_other(real, k) if real_radius is None else real_radius
    fake_radius = nearest_other(fake, k) if fake_radius is None else fake_radius
    d = pairwise(real, fake)
    inside = d < real_radius[:, None]  # fake j inside real i's ball
    return {
        "precision": float(inside.any(0).mean()),
        "recall": float((d < fake_radius[None, :]).any(1).mean()),
        "density": float(inside.sum(0).mean() / k),
        "coverage": float((d.min(1) < real_radius).mean()),
    }


def log_realism(real: np.ndarray, radius: np.ndarray, fake: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Each ``fake`` row's log realism score (Kynkaanniemi et al. 2019): the log of the largest
    ratio of a real point's radius to its distance from the row, 0 or more inside some real
    point's ball (the balls precision counts), how many times too far from the nearest otherwise."""
    log_radius = np.log(np.maximum(radius, 1e-12))
    return by_chunks(fake, real, lambda d, start: (log_radius[None, :] - np.log(np.maximum(d, 1e-12))).max(1), chunk)
