"""The references every generator is measured beside: what a skeptic would propose.

All return ``n x 145`` valid sound parameters for one algorithm group.
"""

from __future__ import annotations

import numpy as np

from ..distances import normalise, pairwise
from ..dx7.params import CHOICE, INDEX, MAX, N_SOUND_PARAMS

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


def interpolation(
    category: np.ndarray, train: np.ndarray, train_category: np.ndarray, rng: np.random.Generator, neighbours: int = 5
) -> np.ndarray:
    """For each requested category, a training voice of that category mixed with one of its
    ``neighbours`` nearest training voices of the same category: levels interpolated at one
    random point per voice, choices (modes, curves, waveforms, the algorithm) taken from
    either parent.  What a method with no learning at all makes: a model must beat it."""
    train = np.asarray(train)[:, :N_SOUND_PARAMS].astype(float)
    out = np.zeros((len(category), N_SOUND_PARAMS))
    for c in np.unique(category):
        rows = np.flatnonzero(category == c)
        members = np.flatnonzero(train_category == c)
        if len(members) < 2:  # a category the group hardly knows: mix among all its voices
            members = np.arange(len(train))
        d = pairwise(normalise(train[members]), normalise(train[members]))
        np.fill_diagonal(d, np.inf)
        near = np.argsort(d, axis=1)[:, : min(neighbours, len(members) - 1)]
        first = rng.integers(0, len(members), len(rows))
        second = near[first, rng.integers(0, near.shape[1], len(rows))]
        a, b = train[members[first]], train[members[second]]
        mixed = a + rng.random((len(rows), 1)) * (b - a)
        pick = np.where(rng.random(a.shape) < 0.5, a, b)
        out[rows] = np.where(CHOICE, pick, np.rint(mixed))
    return out.astype(np.uint8)
