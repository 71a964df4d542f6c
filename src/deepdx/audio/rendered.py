"""A group's training voices as the critic reads them: a seeded sample of them, their
categories and their 27 audio features (:mod:`.features`), rendered once by the sound stage
so that refitting the critic after a new training run renders the generated voices only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dx7.params import N_SOUND_PARAMS
from ..errors import DeepDXError
from .features import N_FEATURES, render_features
from .render import Renderer


@dataclass
class RenderedVoices:
    sound: np.ndarray  # N x 145 parameters
    category: np.ndarray  # N category indices
    features: np.ndarray  # N x 27 audio features

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # np.savez would add .npz to a name without it
            np.savez(f, sound=self.sound, category=self.category, features=self.features)

    @classmethod
    def load(cls, path: str | Path) -> "RenderedVoices":
        try:
            with np.load(path, allow_pickle=False) as f:  # parsed, never unpickled
                out = cls(f["sound"].astype(np.uint8), f["category"].astype(np.int64), f["features"].astype(float))
        except Exception as exc:  # not a zip, not .npz, an object array, keys that do not fit
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DeepDXError(f"{path}: not rendered voices from the sound stage ({reason})") from None
        n = len(out.sound)
        if (
            out.sound.shape != (n, N_SOUND_PARAMS)
            or out.category.shape != (n,)
            or out.features.shape != (n, N_FEATURES)
        ):
            raise DeepDXError(f"{path}: not rendered voices from the sound stage (shapes do not fit)")
        return out


def render_group(voices: np.ndarray, category: np.ndarray, renderer: Renderer, n: int, seed: int) -> RenderedVoices:
    """A seeded sample of at most ``n`` of a group's training voices (N x 155), rendered."""
    rows = np.sort(np.random.default_rng(seed).permutation(len(voices))[:n])
    return RenderedVoices(
        np.asarray(voices)[rows, :N_SOUND_PARAMS],
        np.asarray(category)[rows].astype(np.int64),
        render_features(renderer, np.asarray(voices)[rows]),
    )
