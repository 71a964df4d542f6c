"""What a rendered voice sounds like, as 27 numbers: log RMS, spectral centroid, flatness,
85 % roll-off, sub-audio share, the log-energy of 16 log-spaced bands (relative to the total)
and the log-RMS of 6 time segments.  The evaluation's audio metrics and the sampling's
typical-sound check (:mod:`.typical`) both read them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .render import Renderer
from .spectrum import centroid, rms, spectrum, subaudio_share

BANDS = np.geomspace(40, 16000, 17)  # edges of 16 bands
SEGMENTS = 6  # of the render, for the envelope
N_FEATURES = 5 + len(BANDS) - 1 + SEGMENTS  # 27
LEVEL, CENTROID, FLATNESS, SUBAUDIO = 0, 1, 2, 4  # columns
MAX_THREADS = 4  # renderers at once: each holds a chunk's renders and spectra (about 330 MB)
BLOCK = 16  # rows measured at once: their spectra (4 MB) stay in cache, a third faster than 256 at once


def audio_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """N x 27, ``BLOCK`` rows at a time (the last block takes the rows left over, so no block is
    smaller than ``BLOCK`` unless ``audio`` is): the same numbers as all rows at once (tested)."""
    audio = np.atleast_2d(audio)
    if not len(audio):
        return np.zeros((0, N_FEATURES))
    return np.concatenate([_features(audio[a:b], sample_rate) for a, b in _blocks(len(audio))])


def _blocks(n: int) -> list[tuple[int, int]]:
    """The rows ``audio_features`` measures together, as (start, end): ``BLOCK`` at a time, the
    last block taking the rows left over."""
    starts = list(range(0, n, BLOCK))[: max(1, n // BLOCK)]
    return list(zip(starts, [*starts[1:], n]))


def _pieces(n: int, parts: int) -> list[tuple[int, int]]:
    """``n`` rows cut into at most ``parts`` runs of whole blocks: measured apart, each run gives
    the numbers the whole would (its blocks are the same)."""
    blocks = _blocks(n)
    runs = np.array_split(np.arange(len(blocks)), min(parts, len(blocks)))
    return [(blocks[r[0]][0], blocks[r[-1]][1]) for r in runs]


def _features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = audio.astype(np.float64)
    spec = spectrum(audio, sample_rate)
    power, freqs = spec.power + 1e-20, spec.freqs
    total = power.sum(1)
    hz = centroid(spec)  # the repair pass's measure, so "harsh" means one thing
    flatness = np.exp(np.log(power).mean(1)) / power.mean(1)
    rolloff = freqs[np.argmax(np.cumsum(power, 1) >= 0.85 * total[:, None], axis=1)]
    bands = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(1) for lo, hi in zip(BANDS[:-1], BANDS[1:])], 1)
    segments = np.array_split(audio, SEGMENTS, axis=1)
    envelope = np.stack([np.log10(rms(s) + 1e-6) for s in segments], 1)
    return np.column_stack(
        [
            np.log10(rms(audio) + 1e-6),
            np.log10(hz + 1),
            np.log10(flatness + 1e-12),
            np.log10(rolloff + 1),
            subaudio_share(spec),
            np.log10(bands / total[:, None] + 1e-12),
            envelope,
        ]
    )


def render_features(renderer: Renderer, voices: np.ndarray, chunk: int = 256, threads: int | None = None) -> np.ndarray:
    """N x 27: each voice (N x 155, names included) rendered and measured, ``chunk`` voices at
    a time (a render and its spectrum take about 1.3 MB a voice: a group's 4,700 training
    voices at once took 8 GB), by ``threads`` renderers at once (default: one a CPU core, at
    most ``MAX_THREADS``): each thread a chunk when there are chunks enough, else each chunk cut
    into runs of whole measuring blocks, a run a thread.  dexed-py and numpy let go of the
    GIL while they work, so two threads take half the time on two cores.  A render does not
    depend on what the synth rendered before, and the chunks are the same for any count of
    threads (the FFT's last bits depend on which rows it transforms together), so the numbers
    are too (tested)."""
    voices = np.asarray(voices)
    chunks = [voices[i : i + chunk] for i in range(0, len(voices), chunk)]
    if not chunks:
        return np.zeros((0, N_FEATURES))
    threads = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS, len(voices)))
    renderers = [renderer, *(Renderer(renderer.settings) for _ in range(threads - 1))]  # a synth a thread
    rate = renderer.settings.sample_rate

    def measure(t: int) -> list[np.ndarray]:  # thread t: chunks t, t + threads, ...
        return [audio_features(renderers[t].render_all(c), rate) for c in chunks[t::threads]]

    with ThreadPoolExecutor(threads) as pool:
        if len(chunks) >= threads:
            parts = list(pool.map(measure, range(threads)))
            return np.concatenate([parts[k % threads][k // threads] for k in range(len(chunks))])
        out = []
        for c in chunks:  # fewer chunks than threads: every thread renders and measures a run of each
            runs = [c[a:b] for a, b in _pieces(len(c), threads)]
            out += pool.map(lambda r, run: audio_features(r.render_all(run), rate), renderers, runs)
        return np.concatenate(out)
