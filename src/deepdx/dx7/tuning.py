"""What an operator's numbers mean in sound: its frequency ratio and its loudness.

The DX7's parameters are small integers whose effect is far from linear: coarse 0 is a
ratio of 0.5 and 1-31 the ratio itself, fine adds up to 99 % of it; each step of output
level is about 0.75 dB, so eight steps halve an operator's amplitude (and, for a modulator,
its modulation index); transpose moves every note by semitones, and off whole octaves a voice
plays in another key than the one pressed.  A step that is small in the parameter table can be large in sound:
these functions say how large.

Written with plain arithmetic, so they take NumPy arrays and torch tensors alike (values
as the voice stores them: integers, or floats on the same scale).
"""

from __future__ import annotations

import numpy as np

DB_PER_LEVEL = 0.75  # output level: decibels per step (8 steps ~ 6 dB, half the amplitude)
OCTAVE_TRANSPOSES = (0, 12, 24, 36, 48)  # transpose 0-48 semitones, 24 = none (C3 plays C3)


def frequency_ratio(coarse, fine):
    """An operator's frequency as a multiple of the note's, in ratio mode."""
    return (coarse + 0.5 * (coarse == 0)) * (1 + fine / 100)


def level_gain(level):
    """An operator's amplitude at output level ``level`` relative to level 99 (1.0)."""
    return 10 ** ((level - 99) * DB_PER_LEVEL / 20)


def in_octaves(transpose) -> np.ndarray:
    """Whether each transposition is whole octaves (the voice plays in the key pressed)."""
    return np.isin(np.asarray(transpose), OCTAVE_TRANSPOSES)
