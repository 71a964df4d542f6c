"""Reading and writing DX7 voice data in the forms real collections hold.

Reading (:func:`scan`) accepts

* 32-voice bulk dumps ``F0 43 0n 09 20 00 <4096> <checksum> F7`` on any MIDI channel,
* single-voice dumps ``F0 43 0n 00 01 1B <155> <checksum> F7``,
* files holding several sysex messages (other messages are reported and skipped),
* headerless data: a 4,096-byte bank or any stream of 128-byte packed voices.

Messages are framed by their declared length rather than by searching for ``F7``: a
corrupt data byte of 0xF7 or 0xF0 must not cut a bank in two.  (mido's parser silently
drops such bytes, which would lose voices without a word, so framing is done here;
writing goes through mido.)

Nothing here decides whether a voice is acceptable: :func:`scan` reports what it found,
block by block, and :mod:`deepdx.dx7.validate` applies the policy.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from .packing import Decoded, decode_unpacked, pack, unpack
from .params import BANK_VOICES, PACKED_SIZE, VOICE_SIZE
from .validate import apply_policy, check_ranges

SYSEX_START, SYSEX_END, YAMAHA = 0xF0, 0xF7, 0x43
BANK_DATA_SIZE = BANK_VOICES * PACKED_SIZE  # 4096
# header after F0 43: (format, byte count MSB, byte count LSB) -> (form, payload size, voices)
_FORMATS = {
    (0x09, 0x20, 0x00): ("bulk32", BANK_DATA_SIZE, BANK_VOICES),
    (0x00, 0x01, 0x1B): ("single", VOICE_SIZE, 1),
}
_HEADER_SIZE = 6  # F0 43 0n ff bb bb


def checksum(payload: bytes | np.ndarray) -> int:
    """DX7 checksum: the low 7 bits of the two's complement of the payload's sum."""
    return -int(np.frombuffer(bytes(payload), dtype=np.uint8).sum(dtype=np.int64)) & 0x7F


@dataclass
class Block:
    """A run of voice slots found in a file."""

    form: str  # bulk32 | single | headerless
    offset: int  # byte offset in the file
    count: int  # voice slots the block declares
    decoded: Decoded | None = None  # None when the block could not be decoded at all
    problem: str = ""  # applies to every voice of the block (e.g. truncated)
    checksum_ok: bool | None = None  # None where the form has no checksum


@dataclass
class Scan:
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # findings that concern no voice
    error: str = ""  # set when the file holds no DX7 voice data at all

    @property
    def voice_slots(self) -> int:
        return sum(b.count for b in self.blocks)


# A DX7 voice dump's header (either form, any channel), wherever it starts in a file.
_DX7_HEADER = re.compile(rb"\xF0\x43[\x00-\x0F](?:\x09\x20\x00|\x00\x01\x1B)")
_F0_RUN = re.compile(rb"\xF0+")
NOTE_EXAMPLES = 3  # notes of one kind listed in full; the rest are counted


def scan(data: bytes) -> Scan:
    """Find every DX7 voice in ``data``; never raises on malformed input.

    Time is linear in the size of ``data`` and memory stays small whatever it holds: runs of
    identical malformed messages become one block, and notes of one kind are counted
    beyond the first few."""
    if not data:
        return Scan(error="empty file")
    header = _DX7_HEADER.search(data)
    if data[0] != SYSEX_START and header is None and len(data) % PACKED_SIZE == 0:
        return _scan_headerless(data)
    first = data.find(bytes([SYSEX_START]))
    if first < 0:
        return Scan(
            error=f"not DX7 data: no sysex message, and {len(data)} bytes is not a whole number of 128-byte voices"
        )
    result = _Scanner(data).run(first)
    if not result.blocks and not result.error:
        result.error = "no DX7 voice message: " + "; ".join(result.notes)
    return result


def _scan_headerless(data: bytes) -> Scan:
    packed = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKED_SIZE)
    return Scan(blocks=[Block("headerless", 0, len(packed), unpack(packed))])


class _Notes:
    """Notes by kind: the first few of each kind in full, the rest counted."""

    def __init__(self):
        self.examples: dict[str, list[str]] = {}
        self.counts: Counter = Counter()

    def add(self, kind: str, text: str, n: int = 1) -> None:
        self.counts[kind] += n
        examples = self.examples.setdefault(kind, [])
        if len(examples) < NOTE_EXAMPLES:
            examples.append(text)

    def render(self) -> list[str]:
        lines = []
        for kind, examples in self.examples.items():
            lines += examples
            if self.counts[kind] > len(examples):
                lines.append(f"... and {self.counts[kind] - len(examples)} more: {kind}")
        return lines


class _Scanner:
    """Walks the sysex messages of a file, framed by their declared length."""

    def __init__(self, data: bytes):
        self.data, self.notes, self.blocks = data, _Notes(), []
        self._next_f7 = -2  # cache: the first F7 at or after a position (-1: none left); keeps the walk linear

    def run(self, pos: int) -> Scan:
        data = self.data
        if pos:
            self.notes.add(
                "stray bytes before the first sysex message", f"{pos} stray bytes before the first sysex message"
            )
        while pos < len(data):
            run = _F0_RUN.match(data, pos).end() - pos
            if run > 1:  # F0 F0 F0 ...: each byte but the last opens a message that ends at once
                self.notes.add(
                    "one-byte sysex messages", f"{run - 1} one-byte sysex messages at {pos} (a run of F0 bytes)"
                )
                pos += run - 1
            end = self._message(pos)
            nxt = data.find(bytes([SYSEX_START]), end)
            stray = (nxt if nxt >= 0 else len(data)) - end
            if stray:
                self.notes.add("stray bytes between messages", f"{stray} stray bytes after the message at {pos}")
            pos = nxt if nxt >= 0 else len(data)
        return Scan(blocks=self.blocks, notes=self.notes.render())

    def _message(self, pos: int) -> int:
        """Read the message at ``pos``; return the index one past it."""
        data = self.data
        header = data[pos : pos + _HEADER_SIZE]
        known = _FORMATS.get(tuple(header[3:6])) if len(header) == 6 else None
        if not (known and header[1] == YAMAHA and header[2] & 0xF0 == 0):
            end = self._unframed_end(pos)
            what = "truncated header" if len(header) < 6 else "header " + header.hex(" ")
            self.notes.add(
                "sysex messages that are not DX7 voice dumps",
                f"skipped a {end - pos}-byte sysex message at {pos} that is not a DX7 voice dump ({what})",
            )
            return end
        form, size, voices = known
        end = pos + _HEADER_SIZE + size + 2  # payload, checksum, F7
        if end <= len(data) and data[end - 1] == SYSEX_END:
            payload = np.frombuffer(data, np.uint8, size, pos + _HEADER_SIZE)
            decoded = unpack(payload) if form == "bulk32" else decode_unpacked(payload)
            ok = checksum(payload) == data[end - 2]
            self.blocks.append(Block(form, pos, voices, decoded, checksum_ok=ok))
            return end
        end = self._unframed_end(pos)
        problem = f"malformed {form} message: {end - pos} bytes, expected {size + 8}"
        last = self.blocks[-1] if self.blocks else None
        if last is not None and last.decoded is None and (last.form, last.problem) == (form, problem):
            last.count += voices  # a run of identical broken messages: one block, every slot counted
        else:
            self.blocks.append(Block(form, pos, voices, problem=problem))
        return end

    def _unframed_end(self, start: int) -> int:
        """Index one past a message that has no trustworthy declared length: its F7, or the
        next F0 when that comes first."""
        data = self.data
        if self._next_f7 != -1 and self._next_f7 <= start:
            self._next_f7 = data.find(bytes([SYSEX_END]), start + 1)
        f7 = self._next_f7
        f0 = data.find(bytes([SYSEX_START]), start + 1)
        if f7 >= 0 and (f0 < 0 or f7 < f0):
            return f7 + 1
        return f0 if f0 >= 0 else len(data)


# --------------------------------------------------------------------------- writing


def bank_message(params: np.ndarray, channel: int = 0) -> mido.Message:
    """A 32-voice bulk dump of ``32 x 155`` in-range parameter rows as a mido message."""
    params = np.asarray(params, dtype=np.uint8).reshape(-1, VOICE_SIZE)
    if len(params) != BANK_VOICES:
        raise ValueError(f"a bank holds {BANK_VOICES} voices, got {len(params)}")
    bad = np.flatnonzero(~check_ranges(params))
    if len(bad):
        raise ValueError(f"voices {bad.tolist()} hold out-of-range values; clamp or reject them first")
    payload = pack(params).tobytes()
    return mido.Message("sysex", data=(YAMAHA, channel & 0x0F, 0x09, 0x20, 0x00, *payload, checksum(payload)))


def bank_bytes(params: np.ndarray, channel: int = 0) -> bytes:
    return bytes(bank_message(params, channel).bin())


def write_bank(path: str | Path, params: np.ndarray, channel: int = 0) -> None:
    mido.write_syx_file(str(path), [bank_message(params, channel)])


def check_bank(data: bytes) -> list[str]:
    """Problems that keep ``data`` from being one clean 32-voice bulk dump ([] when it is one)."""
    result = scan(data)
    if result.error:
        return [result.error]
    problems = list(result.notes)
    banks = [b for b in result.blocks if b.form == "bulk32"]
    if len(result.blocks) != 1 or len(banks) != 1:
        problems.append(f"expected one 32-voice bulk dump, found {[b.form for b in result.blocks]}")
    for block in banks:
        if block.decoded is None:
            problems.append(block.problem)
            continue
        if not block.checksum_ok:
            problems.append("checksum mismatch")
        verdict = apply_policy(block.decoded, "strict")
        problems += [f"voice {i + 1}: {r}" for i, r in enumerate(verdict.reasons) if r]
    return problems
