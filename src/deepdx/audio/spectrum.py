"""A render in numbers: level and the spectrum's shape, per row of an N x samples array.

One FFT per call of :func:`spectrum`; everything spectral derives from its result, so the
repair pass and the evaluation's audio features mean the same thing by "centroid".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Spectrum:
    freqs: np.ndarray  # bins, Hz
    magnitude: np.ndarray  # N x bins, |rfft|

    @cached_property
    def power(self) -> np.ndarray:  # computed once: the features read it three times
        return self.magnitude**2


def spectrum(audio: np.ndarray, sample_rate: int) -> Spectrum:
    audio = np.atleast_2d(audio)
    return Spectrum(np.fft.rfftfreq(audio.shape[1], 1 / sample_rate), np.abs(np.fft.rfft(audio, axis=1)))


def rms(audio: np.ndarray) -> np.ndarray:
    """Root mean square per row."""
    return np.sqrt(np.mean(np.square(np.atleast_2d(audio)), axis=1))


def centroid(spec: Spectrum) -> np.ndarray:
    """Spectral centroid in Hz per row (0 for silence), magnitude-weighted."""
    total = spec.magnitude.sum(axis=1)
    return np.where(total > 0, (spec.magnitude * spec.freqs).sum(axis=1) / np.maximum(total, 1e-12), 0.0)


def subaudio_share(spec: Spectrum, cutoff_hz: float = 20.0) -> np.ndarray:
    """Share of each row's energy below ``cutoff_hz`` (inaudible): near 1 for a voice whose
    operators run at a few hertz."""
    power = spec.power
    total = power.sum(axis=1)
    return np.where(total > 0, power[:, spec.freqs < cutoff_hz].sum(axis=1) / np.maximum(total, 1e-20), 0.0)
