"""Audio-side metrics: every evaluated voice rendered the same way (deepdx.audio.RenderSettings).

Features per voice (:func:`deepdx.audio.features.audio_features`, 27 of them), standardised
with the held-out real voices' statistics.

* silent rate: RMS below the repair pass's ``silence_rms``;
* harsh rate: not silent, and a spectral centroid above its ``max_centroid_hz`` or a flatness
  above the 99th percentile of the held-out real voices (noise where a tone belongs);
* diversity: mean pairwise distance of standardised features;
* Frechet distance of the standardised features to the held-out voices'.
"""

from __future__ import annotations

import numpy as np

from ..audio.features import FLATNESS, render_features
from ..audio.render import Renderer
from ..audio.repair import shrill, silent
from ..config import RepairConfig
from ..distances import mean_pairwise
from .metrics import frechet_distance


class AudioReference:
    def __init__(
        self,
        held_out_voices: np.ndarray | None,
        renderer: Renderer,
        thresholds: RepairConfig = RepairConfig(),
        features: np.ndarray | None = None,
    ):
        """``thresholds``: silence and shrillness as the generate stage's repair pass defines them;
        ``features``: the held-out voices' features when they were rendered already (``real``)."""
        self.renderer = renderer
        self.thresholds = thresholds
        self.real = real = self.render_features(held_out_voices) if features is None else features
        self.mu, self.sd = real.mean(0), real.std(0) + 1e-9
        z = (real - self.mu) / self.sd
        self.z_mu, self.z_cov = z.mean(0), np.cov(z, rowvar=False)
        self.flatness_limit = float(np.quantile(real[:, FLATNESS], 0.99))

    def render_features(self, voices: np.ndarray) -> np.ndarray:
        return render_features(self.renderer, voices)

    def evaluate(self, voices: np.ndarray) -> dict[str, float]:
        return self.evaluate_features(self.render_features(voices))

    def evaluate_features(self, f: np.ndarray) -> dict[str, float]:
        quiet = silent(f, self.thresholds)
        harsh = ~quiet & (shrill(f, self.thresholds) | (f[:, FLATNESS] > self.flatness_limit))
        z = (f - self.mu) / self.sd
        return {
            "silent_rate": float(quiet.mean()),
            "harsh_rate": float(harsh.mean()),
            "audio_diversity": mean_pairwise(z),
            "audio_frechet": frechet_distance(z, self.z_mu, self.z_cov),
        }
