"""What the discriminator may see besides the parameters: how loud and how high each operator is.

The parameter distance a GAN learns from treats every step of a level alike, but in sound
they are not: each step of output level is about 0.75 dB, so the top eight steps of a
modulator's level halve or double its modulation index while the bottom forty barely
matter; coarse 1 against 2 is an octave, 20 against 21 a few per cent.  Output levels and
coarse frequencies were where generated voices sounded furthest from real ones
(docs/decisions.md).  ``SoundFeatures`` appends each operator's amplitude and log frequency
ratio (:mod:`deepdx.dx7.tuning`), so the discriminator sees those steps at the size they are
heard.

The values are read as the voice will play them: rounded, with the rounding passed through
straight for the generator's gradient.  Works on the ``Heads`` codec's representation.

Both features are monotone in the parameters.  Periodic ones were measured and dropped: a
ratio's harmonicity (cos 4 pi ratio) and octave transposition (cos 2 pi semitones / 12) gave
the discriminator a test the generator could not learn from (docs/decisions.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..dx7 import tuning
from ..dx7.algorithms import carrier_table
from ..dx7.params import INDEX, MAX, OPS
from .codec import Heads, values

_PER_OPERATOR = ("output_level", "freq_coarse", "freq_fine")


def _columns(codec: Heads, roles: bool) -> list[np.ndarray]:
    """Where SoundFeatures reads each operator's level, coarse and fine frequency in the codec
    (and, with ``roles``, the algorithm)."""
    params = [INDEX[f"op{op}_{f}"] for f in _PER_OPERATOR for op in OPS] + [INDEX["algorithm"]] * roles
    return [np.flatnonzero(codec.continuous == p) for p in params]


def readable(codec, roles: bool = False) -> bool:
    """Whether the codec carries what SoundFeatures reads: levels and frequencies (and, with
    ``roles``, the algorithm) as tanh outputs."""
    return _read(codec, roles) is not None


def _read(codec, roles: bool) -> np.ndarray | None:
    """The codec columns SoundFeatures reads (levels, coarse, fine; operators 1-6 each; then
    the algorithm), or None."""
    columns = _columns(codec, roles) if isinstance(codec, Heads) else []
    return np.concatenate(columns) if columns and all(len(c) == 1 for c in columns) else None


class SoundFeatures(nn.Module):
    """x -> [x, 6 amplitudes, 6 log frequency ratios], in about [-1.3, 1].  With ``roles``
    each amplitude is given twice, as a carrier's (how loud the voice is) and as a
    modulator's (how bright), each 0 where the voice's algorithm gives the operator the other
    role: [x, 6 carrier amplitudes, 6 modulator amplitudes, 6 log frequency ratios]."""

    @staticmethod
    def size(roles: bool = False) -> int:
        """How many features it appends."""
        return (3 if roles else 2) * len(OPS)

    def __init__(self, codec: Heads, roles: bool = False):
        super().__init__()
        columns = _read(codec, roles)
        if columns is None:
            raise ValueError(
                "sound features need output levels and coarse and fine frequencies (with roles, "
                "the algorithm too) as tanh outputs"
            )
        self.roles, self.extra = roles, self.size(roles)
        carrier = carrier_table()[:, [op - 1 for op in OPS]]  # by algorithm 0-31, operators in the codec's order
        self.register_buffer("carrier", torch.from_numpy(carrier.astype(np.float32)), persistent=False)
        self.register_buffer("columns", torch.from_numpy(columns), persistent=False)
        self.register_buffer(
            "top", torch.from_numpy(MAX[codec.continuous[columns]].astype(np.float32)), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = values(x[:, self.columns], self.top)
        value = value + (value.round() - value).detach()  # as played; straight-through gradient
        level, coarse, fine = value[:, : 3 * len(OPS)].split(len(OPS), dim=1)
        gain = tuning.level_gain(level)
        pitch = torch.log2(tuning.frequency_ratio(coarse, fine)) / 3 - 1  # ratios 0.5-62 to about [-1.3, 1]
        if not self.roles:
            return torch.cat([x, 2 * gain - 1, pitch], dim=1)
        carrier = self.carrier[value[:, -1].long()]  # the algorithm, 0-31: which operators reach the output
        return torch.cat([x, 2 * gain * carrier - 1, 2 * gain * (1 - carrier) - 1, pitch], dim=1)
