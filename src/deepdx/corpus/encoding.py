"""The 16x16 encoding of a voice (the seed's representation), lossless, in [-1, 1].

Each parameter ``v`` in ``0..max`` maps to ``2 * v / max - 1``; decoding rounds and clamps,
so every grid, however far off, decodes to a valid voice.  Cells no parameter uses hold 0.

Layouts (``encoding.layout``):

``operator_blocks`` (default) - the grid is eight 4x8 tiles on the stride-2 lattice a
    convolution sees; OP1..OP6 fill six tiles, the global parameters the last two::

        rows 0-3   | OP1 | OP2 |      each operator tile:
        rows 4-7   | OP3 | OP4 |        row 0: EG rate 1-4, EG level 1-4
        rows 8-11  | OP5 | OP6 |        row 1: output level, coarse, fine, detune, mode,
        rows 12-15 | globals   |               velocity sens, AM sens, rate scaling
                                        row 2: break point, left/right depth, left/right curve
    globals: row 12: pitch EG rates and levels, 13: algorithm, feedback, osc sync,
    LFO speed, delay, PMD, AMD, sync, 14: waveform, pitch mod sens, transpose.

``row_major`` - the seed's: the 145 parameters in VCED order, row by row, zero padded.
"""

from __future__ import annotations

import numpy as np

from .. import config
from ..dx7.params import INDEX, MAX, N_SOUND_PARAMS, NAME_LENGTH, OPERATOR_FIELDS, VOICE_SIZE

GRID = 16
_OP_ROWS = (
    ["eg_rate1", "eg_rate2", "eg_rate3", "eg_rate4", "eg_level1", "eg_level2", "eg_level3", "eg_level4"],
    ["output_level", "freq_coarse", "freq_fine", "detune", "osc_mode", "key_vel_sens", "amp_mod_sens", "rate_scaling"],
    ["kls_break_point", "kls_left_depth", "kls_right_depth", "kls_left_curve", "kls_right_curve"],
)
_GLOBAL_ROWS = (
    [f"pitch_eg_rate{i}" for i in range(1, 5)] + [f"pitch_eg_level{i}" for i in range(1, 5)],
    [
        "algorithm",
        "feedback",
        "osc_key_sync",
        "lfo_speed",
        "lfo_delay",
        "lfo_pitch_mod_depth",
        "lfo_amp_mod_depth",
        "lfo_sync",
    ],
    ["lfo_waveform", "pitch_mod_sens", "transpose"],
)
assert sorted(sum(_OP_ROWS, [])) == sorted(OPERATOR_FIELDS)


def _operator_blocks() -> np.ndarray:
    cells = np.full(N_SOUND_PARAMS, -1)
    for op in range(1, 7):
        top, left = 4 * ((op - 1) // 2), 8 * ((op - 1) % 2)
        for r, row in enumerate(_OP_ROWS):
            for c, field in enumerate(row):
                cells[INDEX[f"op{op}_{field}"]] = (top + r) * GRID + left + c
    for r, row in enumerate(_GLOBAL_ROWS):
        for c, name in enumerate(row):
            cells[INDEX[name]] = (12 + r) * GRID + c
    return cells


LAYOUTS = {"operator_blocks": _operator_blocks(), "row_major": np.arange(N_SOUND_PARAMS)}
assert tuple(LAYOUTS) == config.LAYOUTS  # the names the configuration accepts
for _name, _cells in LAYOUTS.items():
    assert len(set(_cells.tolist())) == N_SOUND_PARAMS and _cells.min() >= 0, _name

_SCALE = MAX[:N_SOUND_PARAMS].astype(np.float32)


def encode(params: np.ndarray, layout: str = "operator_blocks") -> np.ndarray:
    """N x 155 (or N x 145) parameters -> N x 16 x 16 float32 in [-1, 1]."""
    sound = np.asarray(params).reshape(len(params), -1)[:, :N_SOUND_PARAMS].astype(np.float32)
    grid = np.zeros((len(sound), GRID * GRID), dtype=np.float32)
    grid[:, LAYOUTS[layout]] = 2 * sound / _SCALE - 1
    return grid.reshape(-1, GRID, GRID)


def decode(grid: np.ndarray, layout: str = "operator_blocks") -> np.ndarray:
    """N x 16 x 16 -> N x 145 uint8 valid parameters (rounded, clamped)."""
    flat = np.asarray(grid, dtype=np.float32).reshape(len(grid), GRID * GRID)[:, LAYOUTS[layout]]
    values = np.rint((np.clip(flat, -1, 1) + 1) / 2 * _SCALE)
    return values.astype(np.uint8)


def used_cells(layout: str = "operator_blocks") -> np.ndarray:
    """16 x 16 bool: cells that carry a parameter."""
    mask = np.zeros(GRID * GRID, dtype=bool)
    mask[LAYOUTS[layout]] = True
    return mask.reshape(GRID, GRID)


def with_names(sound: np.ndarray, name_bytes: np.ndarray) -> np.ndarray:
    """N x 145 sound parameters + N x 10 name bytes -> N x 155 voices."""
    out = np.zeros((len(sound), VOICE_SIZE), dtype=np.uint8)
    out[:, :N_SOUND_PARAMS], out[:, N_SOUND_PARAMS:] = sound, name_bytes
    return out


def with_blank_names(sound: np.ndarray) -> np.ndarray:
    """N x 145 sound parameters as whole voices (N x 155) named with blanks, for rendering."""
    return with_names(sound[:, :N_SOUND_PARAMS], np.full((len(sound), NAME_LENGTH), ord(" "), np.uint8))
