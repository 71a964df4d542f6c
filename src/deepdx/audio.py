"""Hearing a voice: rendering with dexed-py (Dexed's DX7 engine), the one place that does it.

Every render uses the same note, velocity and lengths (``RenderSettings``), so voices can be
compared by their audio.  WAV files are 16-bit mono, written with the standard library.
"""
from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dx7.params import VOICE_SIZE


@dataclass(frozen=True)
class RenderSettings:
    note: int = 60
    velocity: int = 100
    hold: float = 1.0  # seconds the key is held
    length: float = 1.5  # seconds rendered (the release follows the hold)
    sample_rate: int = 44100


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
        return self._synth.render(midi_note=s.note, velocity=s.velocity, note_duration=s.hold,
                                  render_duration=s.length)

    def render_all(self, voices: np.ndarray) -> np.ndarray:
        return np.stack([self.render(v) for v in np.asarray(voices)])


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 44100) -> None:
    """16-bit mono WAV; audio is float in [-1, 1] (clipped)."""
    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(pcm.tobytes())


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        return pcm.astype(np.float32) / 32767, f.getframerate()


def rms(audio: np.ndarray) -> np.ndarray:
    """Root mean square per row."""
    return np.sqrt(np.mean(np.square(np.atleast_2d(audio)), axis=1))


def spectral_centroid(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral centroid in Hz per row (0 for silence)."""
    audio = np.atleast_2d(audio)
    mag = np.abs(np.fft.rfft(audio, axis=1))
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / sample_rate)
    total = mag.sum(axis=1)
    return np.where(total > 0, (mag * freqs).sum(axis=1) / np.maximum(total, 1e-12), 0.0)


def subaudio_share(audio: np.ndarray, sample_rate: int, cutoff_hz: float = 20.0) -> np.ndarray:
    """Share of each row's spectral energy below ``cutoff_hz`` (inaudible): near 1 for a voice
    whose operators run at a few hertz."""
    audio = np.atleast_2d(audio)
    power = np.abs(np.fft.rfft(audio, axis=1)) ** 2
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / sample_rate)
    total = power.sum(axis=1)
    return np.where(total > 0, power[:, freqs < cutoff_hz].sum(axis=1) / np.maximum(total, 1e-20), 0.0)
