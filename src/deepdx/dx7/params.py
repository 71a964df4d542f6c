"""The DX7 voice parameter table: the one source of truth for names, ranges and layout.

Every other module imports from here; nothing else spells out a range or a bit position.

Two layouts of the same voice exist (see shared/reference/dx7-sysex-format.txt):

* **VCED** ("unpacked", single-voice dump): 155 bytes, one parameter per byte.
  Operators are stored OP6 first: bytes 0-20 are OP6, 21-41 OP5, ... 105-125 OP1,
  then 126-144 the global parameters and 145-154 the ten name characters.
* **VMEM** ("packed", 32-voice bulk dump): 128 bytes, several small fields share a byte.

The table below lists the 155 VCED parameters in VCED order, each with its inclusive
maximum and its place in the packed layout (byte, bit shift, bit width).  The parameter
arrays used everywhere (``N x 155`` uint8) are in VCED order.

Operator numbering: ``OPS`` holds the DX7 panel numbers (1-6) in VCED order, i.e.
``OPS[0] == 6``.  dexed-py numbers operators 0-5 with OP1 == 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    name: str
    max: int  # inclusive; every parameter's minimum is 0
    byte: int  # byte in the 128-byte packed voice
    shift: int  # bit position of the field's lowest bit in that byte
    bits: int  # field width in the packed byte


# Per-operator fields in VCED order: (name, max, packed byte within the 17-byte block, shift, bits)
_OPERATOR_FIELDS = (
    ("eg_rate1", 99, 0, 0, 7),
    ("eg_rate2", 99, 1, 0, 7),
    ("eg_rate3", 99, 2, 0, 7),
    ("eg_rate4", 99, 3, 0, 7),
    ("eg_level1", 99, 4, 0, 7),
    ("eg_level2", 99, 5, 0, 7),
    ("eg_level3", 99, 6, 0, 7),
    ("eg_level4", 99, 7, 0, 7),
    ("kls_break_point", 99, 8, 0, 7),
    ("kls_left_depth", 99, 9, 0, 7),
    ("kls_right_depth", 99, 10, 0, 7),
    ("kls_left_curve", 3, 11, 0, 2),
    ("kls_right_curve", 3, 11, 2, 2),
    ("rate_scaling", 7, 12, 0, 3),
    ("amp_mod_sens", 3, 13, 0, 2),
    ("key_vel_sens", 7, 13, 2, 3),
    ("output_level", 99, 14, 0, 7),
    ("osc_mode", 1, 15, 0, 1),  # 0 = ratio, 1 = fixed frequency
    ("freq_coarse", 31, 15, 1, 5),
    ("freq_fine", 99, 16, 0, 7),
    ("detune", 14, 12, 3, 4),  # 7 = centre
)
OPERATOR_FIELDS: tuple[str, ...] = tuple(f[0] for f in _OPERATOR_FIELDS)
OPS: tuple[int, ...] = (6, 5, 4, 3, 2, 1)  # panel number of each VCED operator block
OP_PACKED_SIZE = 17

# Global fields after the six operators: (name, max, packed byte, shift, bits)
_GLOBAL_FIELDS = (
    ("pitch_eg_rate1", 99, 102, 0, 7),
    ("pitch_eg_rate2", 99, 103, 0, 7),
    ("pitch_eg_rate3", 99, 104, 0, 7),
    ("pitch_eg_rate4", 99, 105, 0, 7),
    ("pitch_eg_level1", 99, 106, 0, 7),
    ("pitch_eg_level2", 99, 107, 0, 7),
    ("pitch_eg_level3", 99, 108, 0, 7),
    ("pitch_eg_level4", 99, 109, 0, 7),
    ("algorithm", 31, 110, 0, 5),  # stored 0-31, the panel says 1-32
    ("feedback", 7, 111, 0, 3),
    ("osc_key_sync", 1, 111, 3, 1),
    ("lfo_speed", 99, 112, 0, 7),
    ("lfo_delay", 99, 113, 0, 7),
    ("lfo_pitch_mod_depth", 99, 114, 0, 7),
    ("lfo_amp_mod_depth", 99, 115, 0, 7),
    ("lfo_sync", 1, 116, 0, 1),
    ("lfo_waveform", 5, 116, 1, 3),  # TRI, SAW DOWN, SAW UP, SQUARE, SINE, S/H
    ("pitch_mod_sens", 7, 116, 4, 3),
    ("transpose", 48, 117, 0, 7),  # 24 = C3
)
NAME_LENGTH = 10
_NAME_FIELDS = tuple((f"name_char{i + 1}", 127, 118 + i, 0, 7) for i in range(NAME_LENGTH))


def _build_table() -> tuple[Param, ...]:
    table = []
    for block, op in enumerate(OPS):
        for name, mx, byte, shift, bits in _OPERATOR_FIELDS:
            table.append(Param(f"op{op}_{name}", mx, block * OP_PACKED_SIZE + byte, shift, bits))
    table += [Param(*f) for f in _GLOBAL_FIELDS + _NAME_FIELDS]
    return tuple(table)


PARAMS: tuple[Param, ...] = _build_table()
N_PARAMS = len(PARAMS)  # 155: 145 sound parameters + 10 name characters
N_SOUND_PARAMS = N_PARAMS - NAME_LENGTH  # 145
VOICE_SIZE = 155  # VCED bytes (single voice dump payload)
PACKED_SIZE = 128  # VMEM bytes (one voice of a bulk dump)
BANK_VOICES = 32

NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)
INDEX: dict[str, int] = {n: i for i, n in enumerate(NAMES)}
MAX = np.array([p.max for p in PARAMS], dtype=np.uint8)
BYTE = np.array([p.byte for p in PARAMS], dtype=np.intp)
SHIFT = np.array([p.shift for p in PARAMS], dtype=np.uint8)
MASK = np.array([(1 << p.bits) - 1 for p in PARAMS], dtype=np.uint8)
NAME_SLICE = slice(N_SOUND_PARAMS, N_PARAMS)
# the VCED operator block (0-5, OPS order) each parameter belongs to; len(OPS) for the voice's own
BLOCK = np.array([OPS.index(int(n[2])) if n.startswith("op") else len(OPS) for n in NAMES], dtype=np.int64)

# Parameters whose values name a choice (a mode, a curve, a waveform, an algorithm), not an
# amount: no value lies "between" two others.  Every other sound parameter is a level, rate,
# sensitivity or ratio, whose neighbouring values sound alike.
_CHOICES = {f"op{op}_{f}" for op in OPS for f in ("osc_mode", "kls_left_curve", "kls_right_curve")} | {
    "algorithm",
    "osc_key_sync",
    "lfo_sync",
    "lfo_waveform",
}
CHOICE = np.array([p.name in _CHOICES for p in PARAMS[:N_SOUND_PARAMS]])  # 145 bools


def _raw_masks() -> np.ndarray:
    """Mask of every bit a field *could* carry in a corrupt file.

    The topmost field of a packed byte also owns the byte's unused high bits (including
    bit 7, which MIDI forbids); the DX7 ignores them.  Comparing a field read with this
    mask against the documented one shows data in bits the hardware drops.
    """
    raw = MASK.copy()
    for i, p in enumerate(PARAMS):
        top = max(q.shift for q in PARAMS if q.byte == p.byte)
        if p.shift == top:
            raw[i] = 0xFF >> p.shift
    return raw


RAW_MASK = _raw_masks()


def op_index(op: int, field: str) -> int:
    """Column of an operator field; ``op`` is the panel number 1-6."""
    return INDEX[f"op{op}_{field}"]


def uniform_voices(n: int, seed: int = 0) -> np.ndarray:
    """n x 155 uniformly random valid voices (each parameter uniform over its range, printable names)."""
    rng = np.random.default_rng(seed)
    params = rng.integers(0, MAX.astype(int) + 1, size=(n, N_PARAMS)).astype(np.uint8)
    params[:, NAME_SLICE] = rng.integers(32, 127, size=(n, NAME_LENGTH))
    return params
