"""The probe: every epoch, the kept generator measured against the group's validation voices.

The generator is asked for voices the way the evaluation asks for them: one per validation
voice, of that voice's category, with an algorithm drawn from the training voices of that
category (fixed once, like the noise, so epochs compare).  Distances are Euclidean in
normalised parameter space (:mod:`deepdx.distances`).

* ``precision``, ``recall``, ``density``, ``coverage``: :func:`deepdx.distances.prdc` against
  the validation voices, as in the evaluation;
* ``balanced``: the weakest of those four, each as a share of what as many training voices
  reach against the same validation voices (the ceiling: 1 means "as good as real voices");
* ``memorisation``: share of samples nearer a training voice than 95 % of validation voices
  are (as in the evaluation): near-copies are no gain;
* ``distinct``: share of distinct voices among the samples (exact repeats; blind to
  collapse into near-copies, which is why the next two exist);
* ``near_dup_rate``: share of samples whose nearest other sample is closer than the
  ``quantile`` of validation voices' nearest-neighbour distances;
* ``diversity``: mean pairwise distance among samples of one category over the same for
  validation voices of that category, averaged over categories.  The seed's collapse shows
  here first: samples of a category nearly identical, the noise ignored (ratio far below 1).
"""

from __future__ import annotations

import numpy as np

from ..distances import kth, mean_pairwise, nearest, nearest_other, normalise, own_distances, prdc
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..errors import DeepDXError

PRDC = ("precision", "recall", "density", "coverage")


class CollapseProbe:
    def __init__(
        self,
        reference: np.ndarray,
        reference_category: np.ndarray,
        train: np.ndarray | None = None,
        train_category: np.ndarray | None = None,
        k: int = 5,
        quantile: float = 0.01,
        seed: int = 0,
    ):
        """``reference``: the validation voices; ``train``: the training voices (for the
        algorithms asked for and the ceiling); without them, every algorithm is the first
        reference voice's and no ``balanced`` score is given."""
        if len(reference) < 2:
            raise DeepDXError(f"the probe needs at least 2 validation voices, got {len(reference)}")
        rng = np.random.default_rng(seed)
        self.k = min(k, len(reference) - 1)
        self.reference = normalise(reference)
        self.category = np.asarray(reference_category).astype(np.int64)
        self.threshold = float(np.quantile(nearest_other(self.reference), quantile))
        self.radius = nearest_other(self.reference, self.k)  # the validation voices' PRDC radii, every epoch
        self.real_spread = {
            c: mean_pairwise(self.reference[self.category == c])
            for c in np.unique(self.category)
            if (self.category == c).sum() > 1
        }
        self.algorithm = np.full(len(reference), int(reference[0, INDEX["algorithm"]]), np.int64)
        self.ceiling = None
        if train is not None and len(train):
            train_algorithm = np.asarray(train)[:, INDEX["algorithm"]].astype(np.int64)
            for c in np.unique(self.category):
                rows = np.flatnonzero(self.category == c)
                pool = train_algorithm[np.asarray(train_category) == c]
                self.algorithm[rows] = rng.choice(pool if len(pool) else train_algorithm, len(rows))
            real = np.asarray(train)[rng.choice(len(train), len(reference), replace=len(train) < len(reference))]
            self.ceiling = prdc(self.reference, normalise(real), self.k, self.radius)
            self.train = normalise(train)
            self.memo_threshold = float(np.quantile(nearest(self.reference, self.train), 0.05))

    def diversity(self, x: np.ndarray, category: np.ndarray) -> float:
        ratios = [
            mean_pairwise(x[category == c]) / spread
            for c, spread in self.real_spread.items()
            if (category == c).sum() > 1 and spread > 0
        ]
        return float(np.mean(ratios)) if ratios else float("nan")

    def __call__(self, samples: np.ndarray, category: np.ndarray) -> dict[str, float]:
        x = normalise(samples)
        distinct = len(np.unique(np.asarray(samples)[:, :N_SOUND_PARAMS], axis=0)) / len(x)
        own = own_distances(x)  # once, for near-duplicates and the samples' PRDC radii
        near = float((kth(own, 1) < self.threshold).mean())
        out = {
            "distinct": distinct,
            "near_dup_rate": near,
            "diversity": self.diversity(x, np.asarray(category)),
            **prdc(self.reference, x, self.k, self.radius, kth(own, self.k)),
        }
        if self.ceiling is not None:
            out["balanced"] = min(out[m] / self.ceiling[m] for m in PRDC if self.ceiling[m] > 0)
            out["memorisation"] = float((nearest(x, self.train) <= self.memo_threshold).mean())
        return out
