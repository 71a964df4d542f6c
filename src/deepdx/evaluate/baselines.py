"""The references every generator is measured beside: what a skeptic would propose.

All return ``n x 145`` valid sound parameters for one algorithm group.
"""
from __future__ import annotations

import numpy as np

from ..dx7.params import INDEX, MAX, N_SOUND_PARAMS

_ALG = INDEX["algorithm"]


def uniform(n: int, algorithms: list[int], rng: np.random.Generator) -> np.ndarray:
    """Each parameter uniform over its range; the algorithm uniform over the group's."""
    out = rng.integers(0, MAX[:N_SOUND_PARAMS].astype(int) + 1, size=(n, N_SOUND_PARAMS)).astype(np.uint8)
    out[:, _ALG] = rng.choice(np.asarray(algorithms) - 1, n)
    return out


def marginal(n: int, train: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each parameter drawn independently from its distribution among the training voices."""
    train = np.asarray(train)[:, :N_SOUND_PARAMS]
    return np.stack([train[rng.integers(0, len(train), n), j] for j in range(N_SOUND_PARAMS)], axis=1)


def jitter(n: int, train: np.ndarray, rng: np.random.Generator, params: int = 3, steps: int = 2) -> np.ndarray:
    """Training voices with ``params`` parameters nudged by up to ``steps``: memorisation."""
    out = np.asarray(train)[rng.integers(0, len(train), n), :N_SOUND_PARAMS].astype(int)
    for row in out:
        cols = rng.choice(N_SOUND_PARAMS, params, replace=False)
        cols = cols[cols != _ALG]
        row[cols] += rng.integers(-steps, steps + 1, len(cols))
    return np.clip(out, 0, MAX[:N_SOUND_PARAMS]).astype(np.uint8)
