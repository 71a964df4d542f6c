"""Audio-side metrics: every evaluated voice rendered the same way (deepdx.audio.RenderSettings).

Features per voice (``audio_features``): log RMS, spectral centroid, flatness, 85 % roll-off,
sub-audio share, the log-energy of 16 log-spaced bands (relative to the total) and the
log-RMS of 6 time segments.  Standardised with the held-out real voices' statistics.

* silent rate: RMS below the repair pass's ``silence_rms``;
* harsh rate: not silent, and a spectral centroid above its ``max_centroid_hz`` or a flatness
  above the 99th percentile of the held-out real voices (noise where a tone belongs);
* diversity: mean pairwise distance of standardised features;
* Frechet distance of the standardised features to the held-out voices'.
"""
from __future__ import annotations

import numpy as np

from ..audio.render import Renderer
from ..audio.spectrum import centroid, rms, spectrum, subaudio_share
from ..config import RepairConfig
from ..distances import mean_pairwise
from .metrics import frechet_distance

BANDS = np.geomspace(40, 16000, 17)


def audio_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.atleast_2d(audio).astype(np.float64)
    spec = spectrum(audio, sample_rate)
    power, freqs = spec.power + 1e-20, spec.freqs
    total = power.sum(1)
    hz = centroid(spec)  # the repair pass's measure, so "harsh" means one thing
    flatness = np.exp(np.log(power).mean(1)) / power.mean(1)
    rolloff = freqs[np.argmax(np.cumsum(power, 1) >= 0.85 * total[:, None], axis=1)]
    bands = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(1) for lo, hi in zip(BANDS[:-1], BANDS[1:])], 1)
    segments = np.array_split(audio, 6, axis=1)
    envelope = np.stack([np.log10(rms(s) + 1e-6) for s in segments], 1)
    return np.column_stack([np.log10(rms(audio) + 1e-6), np.log10(hz + 1), np.log10(flatness + 1e-12),
                            np.log10(rolloff + 1), subaudio_share(spec),
                            np.log10(bands / total[:, None] + 1e-12), envelope])


CENTROID, FLATNESS = 1, 2


class AudioReference:
    def __init__(self, held_out_voices: np.ndarray, renderer: Renderer, thresholds: RepairConfig = RepairConfig()):
        """``thresholds``: silence and shrillness as the generate stage's repair pass defines them."""
        self.renderer = renderer
        self.silence_rms, self.max_centroid_hz = thresholds.silence_rms, thresholds.max_centroid_hz
        real = self.render_features(held_out_voices)
        self.mu, self.sd = real.mean(0), real.std(0) + 1e-9
        z = (real - self.mu) / self.sd
        self.z_mu, self.z_cov = z.mean(0), np.cov(z, rowvar=False)
        self.flatness_limit = float(np.quantile(real[:, FLATNESS], 0.99))

    def render_features(self, voices: np.ndarray) -> np.ndarray:
        audio = self.renderer.render_all(voices)
        return audio_features(audio, self.renderer.settings.sample_rate)

    def evaluate(self, voices: np.ndarray) -> dict[str, float]:
        return self.evaluate_features(self.render_features(voices))

    def evaluate_features(self, f: np.ndarray) -> dict[str, float]:
        silent = f[:, 0] < np.log10(self.silence_rms + 1e-6)
        harsh = ~silent & ((f[:, CENTROID] > np.log10(self.max_centroid_hz + 1)) | (f[:, FLATNESS] > self.flatness_limit))
        z = (f - self.mu) / self.sd
        return {"silent_rate": float(silent.mean()), "harsh_rate": float(harsh.mean()),
                "audio_diversity": mean_pairwise(z),
                "audio_frechet": frechet_distance(z, self.z_mu, self.z_cov)}
