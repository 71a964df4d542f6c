"""Cheap collapse indicators, logged every epoch while training.

Distances are Euclidean in normalised parameter space (:mod:`deepdx.distances`).

* ``distinct``: share of distinct voices among the samples (exact repeats; blind to
  collapse into near-copies, which is why the next two exist).
* ``near_dup_rate``: share of samples whose nearest other sample is closer than the
  ``quantile`` of real voices' nearest-neighbour distances: samples nearer each other
  than real voices almost ever are.
* ``diversity``: mean pairwise distance among samples of one category over the same for
  real voices of that category, averaged over categories.  The seed's collapse shows here
  first: samples of a category nearly identical, the noise ignored (ratio far below 1).
* ``precision``: share of samples inside some real voice's k-nearest-neighbour ball: how
  many samples look like real voices; ``coverage``: share of real reference voices with a
  sample inside their ball (a collapsed generator covers few).  Both from
  :func:`deepdx.distances.prdc`, as in the evaluation.
"""
from __future__ import annotations

import numpy as np

from ..distances import mean_pairwise, nearest_other, normalise, prdc
from ..dx7.params import N_SOUND_PARAMS
from ..errors import DeepDXError


class CollapseProbe:
    def __init__(self, reference: np.ndarray, reference_category: np.ndarray, k: int = 5, quantile: float = 0.01):
        if len(reference) < 2:
            raise DeepDXError(f"the collapse probe needs at least 2 reference voices, got {len(reference)}")
        self.k = min(k, len(reference) - 1)
        self.reference = normalise(reference)
        self.reference_category = np.asarray(reference_category)
        self.threshold = float(np.quantile(nearest_other(self.reference), quantile))
        self.real_spread = {c: mean_pairwise(self.reference[self.reference_category == c])
                            for c in np.unique(self.reference_category)
                            if (self.reference_category == c).sum() > 1}

    def diversity(self, x: np.ndarray, category: np.ndarray) -> float:
        ratios = [mean_pairwise(x[category == c]) / spread for c, spread in self.real_spread.items()
                  if (category == c).sum() > 1 and spread > 0]
        return float(np.mean(ratios)) if ratios else float("nan")

    def __call__(self, samples: np.ndarray, category: np.ndarray) -> dict[str, float]:
        x = normalise(samples)
        distinct = len(np.unique(np.asarray(samples)[:, :N_SOUND_PARAMS], axis=0)) / len(x)
        near = float((nearest_other(x) < self.threshold).mean())
        scores = prdc(self.reference, x, self.k)
        return {"distinct": distinct, "near_dup_rate": near, "diversity": self.diversity(x, np.asarray(category)),
                "precision": scores["precision"], "coverage": scores["coverage"]}
