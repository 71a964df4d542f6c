"""Cheap collapse indicators, logged every epoch while training.

Distances are Euclidean in normalised parameter space (each of the 145 parameters divided
by its maximum, so every parameter spans [0, 1]).

* ``distinct``: share of distinct voices among the samples (exact repeats; blind to
  collapse into near-copies, which is why the next two exist).
* ``near_dup_rate``: share of samples whose nearest other sample is closer than the
  ``quantile`` of real voices' nearest-neighbour distances: samples nearer each other
  than real voices almost ever are.
* ``diversity``: mean pairwise distance among samples of one category over the same for
  real voices of that category, averaged over categories.  The seed's collapse shows here
  first: samples of a category nearly identical, the noise ignored (ratio far below 1).
* ``precision``: share of samples inside some real voice's k-nearest-neighbour ball
  (Naeem et al. 2020): how many samples look like real voices.
* ``coverage``: share of real reference voices with a sample inside their k-nearest-
  neighbour ball (Naeem et al. 2020); a collapsed generator covers few.
"""
from __future__ import annotations

import numpy as np
import torch

from ..dx7.params import MAX, N_SOUND_PARAMS
from ..errors import DeepDXError

_SCALE = torch.tensor(MAX[:N_SOUND_PARAMS], dtype=torch.float32)


def normalise(sound: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(sound)[:, :N_SOUND_PARAMS], dtype=torch.float32) / _SCALE


def nn_distances(x: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row."""
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    return d.kthvalue(k, dim=1).values


def mean_pairwise(x: torch.Tensor) -> float:
    n = len(x)
    return float(torch.cdist(x, x).sum() / (n * (n - 1))) if n > 1 else float("nan")


class CollapseProbe:
    def __init__(self, reference: np.ndarray, reference_category: np.ndarray, k: int = 5, quantile: float = 0.01):
        if len(reference) < 2:
            raise DeepDXError(f"the collapse probe needs at least 2 held-out voices, got {len(reference)}")
        k = min(k, len(reference) - 1)
        self.reference = normalise(reference)
        self.reference_category = np.asarray(reference_category)
        self.radius = nn_distances(self.reference, k)
        self.threshold = float(torch.quantile(nn_distances(self.reference), quantile))
        self.real_spread = {c: mean_pairwise(self.reference[self.reference_category == c])
                            for c in np.unique(self.reference_category)
                            if (self.reference_category == c).sum() > 1}

    def diversity(self, x: torch.Tensor, category: np.ndarray) -> float:
        ratios = [mean_pairwise(x[category == c]) / spread for c, spread in self.real_spread.items()
                  if (category == c).sum() > 1 and spread > 0]
        return float(np.mean(ratios)) if ratios else float("nan")

    def __call__(self, samples: np.ndarray, category: np.ndarray) -> dict[str, float]:
        x = normalise(samples)
        distinct = len(np.unique(np.asarray(samples)[:, :N_SOUND_PARAMS], axis=0)) / len(x)
        near = (nn_distances(x) < self.threshold).float().mean().item()
        inside = torch.cdist(self.reference, x) <= self.radius[:, None]  # reference x samples
        return {"distinct": distinct, "near_dup_rate": near, "diversity": self.diversity(x, np.asarray(category)), "precision": inside.any(0).float().mean().item(),
                "coverage": inside.any(1).float().mean().item()}
