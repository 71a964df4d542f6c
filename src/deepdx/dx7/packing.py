"""Vectorised conversion between packed (VMEM, 128 bytes) and unpacked (VCED, 155) voices.

All functions take and return ``N x ...`` uint8 arrays; no Python loop runs per voice or
per parameter.  The layout comes from :mod:`deepdx.dx7.params`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import BYTE, MASK, MAX, N_SOUND_PARAMS, NAME_SLICE, PACKED_SIZE, RAW_MASK, SHIFT, VOICE_SIZE

# Parameters ordered by packed byte, and where each byte's fields start in that order:
# packing ORs the fields of each byte together with one reduceat.
_BY_BYTE = np.argsort(BYTE, kind="stable")
_BYTE_STARTS = np.flatnonzero(np.r_[True, np.diff(BYTE[_BY_BYTE]) != 0])
assert len(_BYTE_STARTS) == PACKED_SIZE, "every packed byte must hold at least one field"


@dataclass
class Decoded:
    """Voices read from bytes, before any validation policy is applied.

    ``params`` holds each field as the DX7 reads it (documented bits only);
    ``raw`` the same fields with every bit the file carried, so that ``raw != params``
    marks data in bits the hardware ignores, and ``eight_bit`` marks voices with a byte
    above 127 (illegal inside a MIDI sysex message).
    """

    params: np.ndarray  # N x 155 uint8, documented bits only
    raw: np.ndarray  # N x 155 uint8 (uint16 not needed: a field is at most 8 bits)
    eight_bit: np.ndarray  # N bool

    def __len__(self) -> int:
        return len(self.params)

    @property
    def ignored_bits(self) -> np.ndarray:
        return (self.raw != self.params).any(axis=1)

    @property
    def out_of_range(self) -> np.ndarray:
        """N x 155 bool: documented bits hold a value above the parameter's maximum."""
        return self.params > MAX


def unpack(packed: np.ndarray) -> Decoded:
    """Decode ``N x 128`` packed voices."""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1, PACKED_SIZE)
    fields = packed[:, BYTE] >> SHIFT
    return Decoded(params=fields & MASK, raw=fields & RAW_MASK, eight_bit=(packed > 127).any(axis=1))


def decode_unpacked(voices: np.ndarray) -> Decoded:
    """Decode ``N x 155`` VCED voices (single-voice dump payloads)."""
    voices = np.asarray(voices, dtype=np.uint8).reshape(-1, VOICE_SIZE)
    return Decoded(params=voices & MASK, raw=voices.copy(), eight_bit=(voices > 127).any(axis=1))


def pack(params: np.ndarray) -> np.ndarray:
    """Encode ``N x 155`` parameter rows as ``N x 128`` packed voices.

    Values must already be in range (see :func:`deepdx.dx7.voice.check_ranges`); bits
    beyond a field's width are dropped, never allowed to spill into a neighbour.
    """
    params = np.asarray(params, dtype=np.uint8).reshape(-1, VOICE_SIZE)
    fields = ((params & MASK) << SHIFT)[:, _BY_BYTE]
    return np.bitwise_or.reduceat(fields, _BYTE_STARTS, axis=1).astype(np.uint8)


def names(params: np.ndarray) -> list[str]:
    """Voice names as readable text (non-printable characters shown as '?')."""
    chars = np.asarray(params, dtype=np.uint8).reshape(-1, VOICE_SIZE)[:, NAME_SLICE]
    printable = np.where((chars >= 32) & (chars < 127), chars, ord("?")).astype(np.uint8)
    return [row.tobytes().decode("ascii") for row in printable]


def encode_name(name: str) -> np.ndarray:
    """Ten name bytes from text: padded with spaces, non-ASCII replaced by '?'."""
    data = name[:10].ljust(10).encode("ascii", errors="replace")
    return np.frombuffer(data, dtype=np.uint8) & 0x7F


def sound_keys(params: np.ndarray) -> list[bytes]:
    """Identity of each voice's sound: its 145 sound parameters as bytes (the name ignored)."""
    sound = np.ascontiguousarray(np.asarray(params, dtype=np.uint8)[:, :N_SOUND_PARAMS])
    return [row.tobytes() for row in sound]
