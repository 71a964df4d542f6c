"""Typical sound: how far a voice's audio lies from a group's training voices, and the
distance within which a given share of those voices lie.

The distance is the squared Mahalanobis distance of the 27 audio features
(:mod:`.features`) from the training voices' mean, with their covariance.  The sound stage
fits one per algorithm group; sampling then draws again a generated voice that lies beyond
the limit (:func:`deepdx.generate.sample.sample_checked`).  Only training voices are read.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DeepDXError
from .features import N_FEATURES, render_features
from .render import Renderer


@dataclass
class TypicalSound:
    mean: np.ndarray  # of the features
    sd: np.ndarray
    precision: np.ndarray  # inverse covariance of the standardised features
    limit: float  # distance within which ``quantile`` of the training voices lie
    quantile: float
    voices: int  # training voices it was fitted on

    @classmethod
    def fit(cls, features: np.ndarray, quantile: float) -> "TypicalSound":
        if len(features) <= N_FEATURES:
            raise DeepDXError(f"a typical sound needs more voices than its {N_FEATURES} features; got {len(features)}")
        mean, sd = features.mean(0), features.std(0) + 1e-9
        z = (features - mean) / sd
        out = cls(mean, sd, np.linalg.pinv(np.cov(z, rowvar=False)), np.inf, quantile, len(features))
        out.limit = float(np.quantile(out.distance(features), quantile))
        return out

    def distance(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.sd
        return np.einsum("ij,jk,ik->i", z, self.precision, z)

    def typical(self, features: np.ndarray) -> np.ndarray:
        return self.distance(features) <= self.limit

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # np.savez would add .npz to a name without it
            np.savez(f, mean=self.mean, sd=self.sd, precision=self.precision,
                     scalars=np.array([self.limit, self.quantile, self.voices]))

    @classmethod
    def unlimited(cls, quantile: float, voices: int) -> "TypicalSound":
        """No limit: every voice typical (a group with too few voices to fit)."""
        return cls(np.zeros(N_FEATURES), np.ones(N_FEATURES), np.zeros((N_FEATURES, N_FEATURES)), np.inf, quantile, voices)

    @classmethod
    def load(cls, path: str | Path) -> "TypicalSound":
        try:
            with np.load(path, allow_pickle=False) as f:  # parsed, never unpickled
                limit, quantile, voices = (float(v) for v in f["scalars"])
                out = cls(f["mean"].astype(float), f["sd"].astype(float), f["precision"].astype(float),
                          limit, quantile, int(voices))
        except Exception as exc:  # not a zip, not .npz, an object array, keys or values that do not fit
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DeepDXError(f"{path}: not a typical-sound file from the sound stage ({reason})") from None
        shapes = out.mean.shape == out.sd.shape == (N_FEATURES,) and out.precision.shape == (N_FEATURES, N_FEATURES)
        if not shapes or np.isnan(out.limit) or not np.isfinite(out.precision).all():
            raise DeepDXError(f"{path}: not a typical-sound file from the sound stage (shapes or values do not fit)")
        return out


def fit_group(voices: np.ndarray, renderer: Renderer, quantile: float, n: int, seed: int) -> TypicalSound:
    """Fitted on a seeded subset of at most ``n`` of a group's training voices (N x 155); a
    group with too few voices to fit gets no limit (every voice typical: nothing is redrawn)."""
    rows = np.random.default_rng(seed).permutation(len(voices))[:n]
    features = render_features(renderer, voices[np.sort(rows)])
    return TypicalSound.fit(features, quantile) if len(features) > N_FEATURES else TypicalSound.unlimited(quantile, len(features))
