"""WAV previews: 16-bit mono, written with scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import wavfile

from ..files import replacing


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 44100) -> None:
    """Audio is float in [-1, 1] (clipped); the file appears whole or not at all."""
    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial:
        wavfile.write(partial, sample_rate, pcm)
