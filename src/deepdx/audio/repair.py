"""The audio check and repair pass: a voice that renders silent, shrill or inaudible gets
single operators switched between fixed and ratio frequency (the seed author's manual fix).

Thresholds (:class:`deepdx.config.RepairConfig`) sit beyond what 99 % of real voices do;
the evaluation's "silent" and "harsh" rates use the same ones.
"""

from __future__ import annotations

import numpy as np

from ..config import RepairConfig
from ..dx7.algorithms import carriers
from ..dx7.params import INDEX, op_index
from .features import CENTROID, LEVEL, SUBAUDIO
from .render import Renderer
from .spectrum import centroid, rms, spectrum, subaudio_share


def audio_problem(audio: np.ndarray, sample_rate: int, cfg: RepairConfig) -> str:
    """What is wrong with one render ("" when nothing is)."""
    level = float(rms(audio)[0])
    if level < cfg.silence_rms:
        return "silent"
    spec = spectrum(audio, sample_rate)
    hz = float(centroid(spec)[0])
    if hz > cfg.max_centroid_hz:
        return f"shrill (spectral centroid {hz:.0f} Hz)"
    low = float(subaudio_share(spec)[0])
    if low > cfg.max_subaudio_share:
        return f"inaudible ({100 * low:.0f} % of the energy below 20 Hz)"
    return ""


def silent(features: np.ndarray, cfg: RepairConfig) -> np.ndarray:
    """Per voice (N x 27 audio features, :mod:`.features`): RMS below ``silence_rms``."""
    return features[:, LEVEL] < np.log10(cfg.silence_rms + 1e-6)


def shrill(features: np.ndarray, cfg: RepairConfig) -> np.ndarray:
    """Per voice: a spectral centroid above ``max_centroid_hz``."""
    return features[:, CENTROID] > np.log10(cfg.max_centroid_hz + 1)


def wrong(features: np.ndarray, cfg: RepairConfig) -> np.ndarray:
    """Per voice, what ``audio_problem`` finds from the features: silent, shrill or inaudible."""
    return silent(features, cfg) | shrill(features, cfg) | (features[:, SUBAUDIO] > cfg.max_subaudio_share)


MARGIN = 1e-4  # features (float64, FFT over a block of rows) and ``audio_problem`` (one float32 render) agree to ~1e-6


def clearly_right(features: np.ndarray, cfg: RepairConfig) -> np.ndarray:
    """Per voice: the features clear of every threshold of ``wrong`` by ``MARGIN``, so that
    ``audio_problem`` of the voice's own render is sure to find nothing (no need to render it)."""
    return (
        (features[:, LEVEL] >= np.log10(cfg.silence_rms + 1e-6) + MARGIN)
        & (features[:, CENTROID] <= np.log10(cfg.max_centroid_hz + 1) - MARGIN)
        & (features[:, SUBAUDIO] <= cfg.max_subaudio_share - MARGIN)
    )


def repair(voice: np.ndarray, renderer: Renderer, cfg: RepairConfig) -> tuple[np.ndarray, str, str]:
    """(voice, problem found or "", fix applied or ""): flips one operator's fixed/ratio mode."""
    sr = renderer.settings.sample_rate
    problem = audio_problem(renderer.render(voice), sr, cfg)
    if not problem:
        return voice, "", ""
    alg = int(voice[INDEX["algorithm"]]) + 1
    ops = sorted(range(1, 7), key=lambda op: (voice[op_index(op, "osc_mode")] == 0, op not in carriers(alg), op))
    for op in ops:  # fixed-frequency operators first, carriers before modulators
        col = op_index(op, "osc_mode")
        trial = voice.copy()
        trial[col] = 1 - trial[col]
        if not audio_problem(renderer.render(trial), sr, cfg):
            return trial, problem, f"OP{op} {'fixed->ratio' if voice[col] else 'ratio->fixed'}"
    return voice, problem, ""
