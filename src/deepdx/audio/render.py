"""Rendering with dexed-py (Dexed's DX7 engine), the one place that does it.

Every render uses the same note, velocity and lengths (``RenderSettings``), so voices can be
compared by their audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dx7.params import VOICE_SIZE


@dataclass(frozen=True)
class RenderSettings:
    note: int = 60
    velocity: int = 100
    hold: float = 1.0  # seconds the key is held
    length: float = 1.5  # seconds rendered (the release follows the hold)
    sample_rate: int = 44100


def normalised(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Each sound (a row of ``N x samples``, or one 1-D sound) scaled to the same peak, so quiet
    voices can be heard too: how every preview is levelled."""
    return audio / np.maximum(np.abs(audio).max(axis=-1, keepdims=True), 1e-6) * peak


class Renderer:
    """Renders N x 155 voices to N x samples float32 audio."""

    def __init__(self, settings: RenderSettings = RenderSettings()):
        import dexed

        self.settings = settings
        self._dexed = dexed
        self._synth = dexed.DexedSynth(float(settings.sample_rate))

    def render(self, voice: np.ndarray) -> np.ndarray:
        s = self.settings
        self._synth.load_patch(self._dexed.Patch.from_raw(np.asarray(voice, dtype=np.uint8)[:VOICE_SIZE]))
        return self._synth.render(midi_note=s.note, velocity=s.velocity, note_duration=s.hold, render_duration=s.length)

    def render_all(self, voices: np.ndarray) -> np.ndarray:
        return np.stack([self.render(v) for v in np.asarray(voices)])
