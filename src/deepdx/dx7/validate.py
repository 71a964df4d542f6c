"""Validation policies: what to do with voices whose bytes the DX7 would not accept as-is.

Real collections hold three kinds of damage:

* bytes above 127 (illegal in MIDI; always a sign of corruption),
* data in bits the DX7 ignores (e.g. the unused top bits of the algorithm byte: some
  editors and "watermarks" leave them set; the hardware masks them off),
* values out of range even in the documented bits (an EG level of 127 where 99 is the
  maximum; Dexed reports such values distort).

Policies (``ingest.policy`` in conf/):

``strict``  reject a voice with any of the three.
``mask``    drop ignored bits as the hardware does, then reject what is still out of range.
``clamp``   drop ignored bits, then clamp out-of-range values to the maximum.

Bytes above 127 are rejected under every policy unless ``eight_bit="mask"``.  A blank voice
(every byte zero: an empty slot, or zeros mistaken for voices) is rejected under every policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import EIGHT_BIT, INGEST_POLICIES as POLICIES
from ..errors import DeepDXError
from .packing import Decoded
from .params import MAX, NAMES


@dataclass
class Verdict:
    params: np.ndarray  # N x 155, the values an accepted voice keeps
    accepted: np.ndarray  # N bool
    reasons: list[str]  # "" for accepted voices
    masked: np.ndarray  # N bool: accepted with ignored bits dropped
    clamped: np.ndarray  # N bool: accepted with values clamped


def _describe(row_mask: np.ndarray, values: np.ndarray, what: str) -> str:
    cols = np.flatnonzero(row_mask)
    first = ", ".join(f"{NAMES[c]}={values[c]} (max {MAX[c]})" for c in cols[:3])
    more = f" and {len(cols) - 3} more" if len(cols) > 3 else ""
    return f"{what}: {first}{more}"


def apply_policy(decoded: Decoded, policy: str = "mask", eight_bit: str = "reject") -> Verdict:
    if policy not in POLICIES:
        raise DeepDXError(f"unknown validation policy {policy!r}; choose one of {POLICIES}")
    if eight_bit not in EIGHT_BIT:
        raise DeepDXError(f"unknown eight_bit handling {eight_bit!r}; choose one of {EIGHT_BIT}")
    n = len(decoded)
    ignored = decoded.raw != decoded.params  # N x 155
    oor = decoded.out_of_range  # N x 155
    has_ignored, has_oor = ignored.any(axis=1), oor.any(axis=1)

    blank = ~decoded.raw.any(axis=1) & ~decoded.eight_bit
    reject_8bit = decoded.eight_bit & (eight_bit == "reject")
    reject_ignored = has_ignored & (policy == "strict") & ~reject_8bit
    reject_oor = has_oor & (policy != "clamp") & ~reject_8bit & ~reject_ignored
    accepted = ~(blank | reject_8bit | reject_ignored | reject_oor)

    reasons = [""] * n
    for i in np.flatnonzero(blank):
        reasons[i] = "blank: every byte zero"
    for i in np.flatnonzero(reject_8bit):
        reasons[i] = "corrupt: byte above 127 (not 7-bit MIDI data)"
    for i in np.flatnonzero(reject_ignored):
        reasons[i] = _describe(ignored[i], decoded.raw[i], "data in bits the DX7 ignores")
    for i in np.flatnonzero(reject_oor):
        reasons[i] = _describe(oor[i], decoded.params[i], "out of range")

    params = np.minimum(decoded.params, MAX) if policy == "clamp" else decoded.params.copy()
    return Verdict(
        params=params,
        accepted=accepted,
        reasons=reasons,
        masked=accepted & (has_ignored | decoded.eight_bit),
        clamped=accepted & has_oor,
    )


def check_ranges(params: np.ndarray) -> np.ndarray:
    """N bool: every parameter of the voice is within its DX7 range."""
    return (np.asarray(params).reshape(-1, len(MAX)) <= MAX).all(axis=1)
