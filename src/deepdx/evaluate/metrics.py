"""Parameter-space metrics, in normalised parameter space (:mod:`deepdx.distances`).

* duplicate rate: share of voices equal to an earlier one of the same set;
* memorisation: share identical to a training voice, or nearer to one than
  ``memo_quantile`` of real held-out voices are to their nearest training voice;
* precision, recall, density, coverage (Naeem et al. 2020, as the authors' ``prdc`` computes them) against held-out;
* NDB/K (Richardson & Weiss 2018): share of k-means bins, fitted on training voices, whose
  share of generated voices differs from the held-out share (two-proportion z-test, alpha);
* Frechet distance between Gaussian fits of generated and held-out features;
* diversity: mean pairwise distance, overall and per category.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.stats import norm
from sklearn.cluster import KMeans

from ..corpus.categorize import classifier_features
from ..distances import mean_pairwise, nearest, nearest_other, normalise, prdc
from ..dx7.packing import sound_keys


def category_fidelity(classifier, voices: np.ndarray, category: np.ndarray) -> float:
    """The share of ``voices`` (N x 145) that ``classifier`` (the categorize stage's) labels as
    their ``category`` (indices)."""
    return float((classifier.predict(classifier_features(voices)) == category).mean())


def duplicate_rate(sound: np.ndarray) -> float:
    keys = sound_keys(sound)
    return 1 - len(set(keys)) / len(keys)


class Reference:
    """What every evaluated set is compared with: one group's training and held-out voices."""

    def __init__(
        self,
        train: np.ndarray,
        held_out: np.ndarray,
        k: int = 5,
        bins: int = 20,
        memo_quantile: float = 0.05,
        seed: int = 0,
    ):
        self.train_f, self.held_f = normalise(train), normalise(held_out)
        self.train_keys = set(sound_keys(train))
        self.k = k
        self.held_radius = nearest_other(self.held_f, k)  # every set evaluated here meets the same radii
        self.held_nearest = nearest(
            self.held_f, self.train_f
        )  # each held-out voice's distance to its nearest training voice
        self.memo_threshold = float(np.quantile(self.held_nearest, memo_quantile))
        self.kmeans = KMeans(n_clusters=min(bins, len(self.train_f)), n_init=3, random_state=seed).fit(self.train_f)
        self.held_bins = np.bincount(self.kmeans.predict(self.held_f), minlength=self.kmeans.n_clusters)
        self.held_mu, self.held_cov = self.held_f.mean(0), np.cov(self.held_f, rowvar=False)

    def nearest_training(self, sound: np.ndarray) -> np.ndarray:
        """Each voice's distance to its nearest training voice."""
        return nearest(normalise(sound), self.train_f)

    def memorisation(self, sound: np.ndarray, distances: np.ndarray | None = None) -> float:
        """``distances``: ``nearest_training(sound)``, when the caller has it already."""
        identical = np.array([key in self.train_keys for key in sound_keys(sound)])
        close = (self.nearest_training(sound) if distances is None else distances) <= self.memo_threshold
        return float((identical | close).mean())

    def prdc(self, sound: np.ndarray) -> dict[str, float]:
        return prdc(self.held_f, normalise(sound), self.k, self.held_radius)

    def ndb(self, sound: np.ndarray, alpha: float = 0.05) -> float:
        """NDB/K: share of bins with a significantly different proportion."""
        gen = np.bincount(self.kmeans.predict(normalise(sound)), minlength=self.kmeans.n_clusters)
        n1, n2 = self.held_bins.sum(), gen.sum()
        p1, p2 = self.held_bins / n1, gen / n2
        pooled = (self.held_bins + gen) / (n1 + n2)
        se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / n1 + 1 / n2), 1e-12))
        p_value = 2 * norm.sf(np.abs(p1 - p2) / se)
        return float((p_value < alpha).mean())

    def frechet(self, sound: np.ndarray) -> float:
        return frechet_distance(normalise(sound), self.held_mu, self.held_cov)


def frechet_distance(x: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    mu1, cov1 = x.mean(0), np.cov(x, rowvar=False)
    covmean, _ = linalg.sqrtm(cov1 @ cov2, disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * covmean))


def diversity(sound: np.ndarray, category: np.ndarray | None = None) -> dict[str, float]:
    """Mean pairwise distance, overall and per category (keys 'all' and category indices)."""
    f = normalise(sound)
    out = {"all": mean_pairwise(f)}
    if category is not None:
        for c in np.unique(category):
            out[str(int(c))] = mean_pairwise(f[category == c])
    return out
