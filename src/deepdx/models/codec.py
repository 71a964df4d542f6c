"""How a voice meets the networks: what the discriminator sees, and how the generator's raw
output becomes a voice.  Two representations, chosen by ``model.arch``:

``Grid`` (conv, the seed's): every parameter one cell of the 16x16 grid in [-1, 1]
    (:mod:`deepdx.corpus.encoding`); the generator's output goes through tanh and decoding
    rounds.  Small choices (a curve, a mode) come out as a value between two choices,
    rounded afterwards.

``Heads`` (mlp): one head per parameter.  A parameter with at most ``max_choices`` values
    (curves, modes, waveforms, small sensitivities...), or named in ``choices`` (transpose,
    whose real values sit on whole octaves), gets a softmax over its values: the
    discriminator sees a one-hot vector, for generated voices through a straight-through
    Gumbel-softmax, so the generator learns to put its mass on real values.  The others
    (levels and rates, 0-99) get one tanh output each.  Sampling draws each choice from
    its softmax (``temperature`` sharpens or flattens it; 0 takes the most likely; the named
    heads are not flattened).

    ``spikes``: levels with a value that many real voices hold exactly (an operator's
    level 4 at 0, a pitch level at 50, a detune at 7: see :func:`spikes_of`) get a gate
    as well, a two-way choice between that value, exactly, and the tanh output (the
    spike-and-slab of tabular generators: a tanh output alone smears the spike over its
    neighbours).  A gate takes its more likely side, without noise, in training and in
    sampling alike, so that a voice's spikes follow from its noise vector and go together
    as in real voices (sampled independently, each its own coin, they did not: docs/model.md).
    The discriminator sees the gate's one-hot beside the level; real levels at their spike
    are not dequantised.

    ``margin``: a level's tanh is stretched by (1 + margin) and clipped, so that its end
    values (0 and 99, which a fifth to a half of real voices hold in some levels: an attack
    rate or a carrier's output level at 99) lie where the output still has slope, not only
    in tanh's flat tails, which left them short (a 98 for a 99).

Both: ``encode`` (parameters -> the discriminator's input), ``finish`` (raw generator output
-> the same space), ``decode`` (that space -> valid parameters), ``widths`` (half the gap
between neighbouring values of each level, for dequantising real voices) and
``set_algorithm`` (conditioning writes the requested algorithm into the voice).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch.nn import functional as F

from ..corpus import encoding
from ..dx7.params import BLOCK, INDEX, MAX, N_SOUND_PARAMS
from ..errors import DeepDXError

_ALG = INDEX["algorithm"]
_VALUES = MAX[:N_SOUND_PARAMS].astype(np.int64) + 1  # number of values of each sound parameter
_NAMES = list(INDEX)[:N_SOUND_PARAMS]


class Grid:
    def __init__(self, layout: str):
        self.layout = layout
        self.shape = (encoding.GRID, encoding.GRID)
        self.mask = torch.from_numpy(encoding.used_cells(layout)).float()
        widths = np.zeros(encoding.GRID * encoding.GRID, dtype=np.float32)
        widths[encoding.LAYOUTS[layout]] = 1.0 / MAX[:N_SOUND_PARAMS]
        self.widths = torch.from_numpy(widths.reshape(self.shape))
        self._alg_cell = divmod(int(encoding.LAYOUTS[layout][_ALG]), encoding.GRID)

    def encode(self, params: np.ndarray) -> np.ndarray:
        return encoding.encode(params, self.layout)

    def decode(self, x: np.ndarray) -> np.ndarray:
        return encoding.decode(x, self.layout)

    def finish(self, raw: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
        return torch.tanh(raw) * self.mask.to(raw.device)

    def sample(
        self, raw: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.finish(raw)

    def spread(self, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        return widths

    def set_algorithm(self, x: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        """``algorithm``: stored values 0-31."""
        x = x.clone()
        x[:, self._alg_cell[0], self._alg_cell[1]] = 2 * algorithm.to(x.dtype) / MAX[_ALG] - 1
        return x


class Knobs:
    """A generator's sampling knobs, ``temperature`` and ``truncation``: its own (as calibrated),
    unless a call gives others.  Every family's generator has them."""

    temperature: float = 1.0
    truncation: float = 1.0

    def knobs(self, temperature: float | None = None, truncation: float | None = None) -> tuple[float, float]:
        """(temperature, truncation) as sampling uses them: the given ones, None the generator's own."""
        return (
            self.temperature if temperature is None else temperature,
            self.truncation if truncation is None else truncation,
        )


def dequantize(x: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """Spread each encoded real level uniformly over its rounding bin of half-width ``spread``
    (a codec's ``spread``; 0 for one-hot columns), reflected at the edges of [-1, 1]; over 99 %
    of it, so that float rounding never carries a value into the next bin."""
    x = x + (torch.rand_like(x) * 2 - 1) * (0.99 * spread)
    x = torch.where(x < -1, -2 - x, x)
    return torch.where(x > 1, 2 - x, x)


def values(x, top):
    """A tanh output in [-1, 1] (NumPy array or tensor) as the parameter value 0-``top`` it
    stands for, before rounding."""
    return (x.clip(-1, 1) + 1) / 2 * top


def _categorical(max_choices: int, choices: tuple[str, ...]) -> np.ndarray:
    """Which sound parameters get a softmax head (see Heads)."""
    choice = _VALUES <= max_choices
    for name in choices:
        named = np.array([n == name or (n[:2] == "op" and n[4:] == name) for n in _NAMES])
        if not named.any():
            raise DeepDXError(f"model.choices: no DX7 sound parameter is called {name!r}")
        choice |= named
    return choice


def spikes_of(
    params: np.ndarray, max_choices: int, choices: tuple[str, ...], share: float
) -> tuple[tuple[int, int], ...]:
    """The spikes of ``Heads``: each tanh-headed level (the algorithm aside: it is asked for)
    whose most common value in ``params`` (N x 145 or more) is held by at least ``share`` of
    the voices, as (parameter index, that value); ``share`` 0: none."""
    if share <= 0 or not len(params):
        return ()
    out = []
    for p in np.flatnonzero(~_categorical(max_choices, choices)):
        counts = np.bincount(np.asarray(params)[:, p].astype(np.int64), minlength=int(_VALUES[p]))
        if p != _ALG and counts.max() >= share * len(params):
            out.append((int(p), int(counts.argmax())))
    return tuple(out)


class Heads:
    def __init__(
        self,
        max_choices: int,
        choices: tuple[str, ...] = (),
        spikes: tuple[tuple[int, int], ...] = (),
        margin: float = 0.0,
    ):
        """``choices``: parameters that get a softmax head whatever their number of values, by
        name (``transpose``) or by an operator parameter's name without its ``opN_`` (``freq_coarse``);
        ``spikes``: (parameter index, value) pairs of tanh-headed levels that get a gate (spikes_of);
        ``margin``: each level is tanh * (1 + margin) clipped to [-1, 1], so that its end values
        (0 and the top) are reached short of tanh's flat tails (straight through: the gradient
        of the unclipped value)."""
        self.max_choices = max_choices
        self.margin = float(margin)
        choice = _categorical(max_choices, choices)
        self.continuous = np.flatnonzero(~choice)  # parameter indices with a tanh head
        self.categorical = np.flatnonzero(choice)  # ... with a softmax head
        where = {int(p): i for i, p in enumerate(self.continuous)}
        bad = any(p not in where or p == _ALG or not 0 <= v < _VALUES[p] for p, v in spikes)
        if bad or len({p for p, _ in spikes}) < len(spikes):
            raise DeepDXError(f"spikes: not levels with a tanh head, a level twice, or values out of range: {spikes}")
        self.spiked = np.array([where[p] for p, _ in spikes], dtype=np.int64)  # columns of the gated levels
        self.spike_values = np.array([v for _, v in spikes], dtype=np.int64)
        self.spike_at = torch.from_numpy(
            2 * self.spike_values / MAX[self.continuous[self.spiked]] - 1
        ).float()  # encoded
        self.sizes = np.concatenate([_VALUES[self.categorical], np.full(len(spikes), 2)]).astype(np.int64)
        n_cont = len(self.continuous)
        self.starts = n_cont + np.concatenate([[0], np.cumsum(self.sizes)])[: len(self.sizes)].astype(np.int64)
        # index tensors of the gates, built once (they are read on every training step)
        self._spiked = torch.from_numpy(self.spiked)
        self._gates = torch.from_numpy(self.starts[len(self.categorical) :])  # each gate's first column: "at the spike"
        self.width = int(n_cont + self.sizes.sum())
        self.shape = (self.width,)
        widths = np.zeros(self.width, dtype=np.float32)
        widths[:n_cont] = 1.0 / MAX[self.continuous]
        self.widths = torch.from_numpy(widths)
        # the softmax blocks in bundles of one size: each bundle a (blocks, size) table of its
        # columns, sampled in one vectorised call without padding a block to a bigger one's size
        sizes = self.sizes[: len(self.categorical)]
        self._bundles = [
            (blocks, torch.from_numpy(self.starts[blocks][:, None] + np.arange(size)))
            for size in sorted(set(sizes.tolist()))  # np.unique would import numpy.ma (0.05 s of a command)
            for blocks in [np.flatnonzero(sizes == size)]
        ]
        self._gate_cols = self._gates[:, None] + torch.arange(2)  # (gates, 2)
        self._gates_joined = self._gates - n_cont  # ... among the columns after the levels
        cols = [c for _, c in self._bundles] + [self._gate_cols]
        joined = np.concatenate([c.numpy().ravel() for c in cols])  # the gates' (maybe empty) table is always there
        self._order = torch.from_numpy(np.argsort(joined))  # the bundles' columns back into codec order

    def blocks(self) -> np.ndarray:
        """The operator block (0-5; 6: the voice's globals) of the parameter each column encodes."""
        gated = self.continuous[self.spiked]
        params = np.concatenate(
            [self.continuous, np.repeat(self.categorical, self.sizes[: len(self.categorical)]), np.repeat(gated, 2)]
        )
        return BLOCK[params]

    def encode(self, params: np.ndarray) -> np.ndarray:
        sound = np.asarray(params)[:, :N_SOUND_PARAMS].astype(np.int64)
        x = np.zeros((len(sound), self.width), dtype=np.float32)
        x[:, : len(self.continuous)] = 2 * sound[:, self.continuous] / MAX[self.continuous] - 1
        rows = np.arange(len(sound))[:, None]
        picks = [sound[:, self.categorical]]  # choice blocks: the value; gates: 0 at the spike, else 1
        picks.append(sound[:, self.continuous[self.spiked]] != self.spike_values[None, :])
        x[rows, self.starts[None, :] + np.concatenate(picks, axis=1)] = 1
        return x

    def decode(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        out = np.zeros((len(x), N_SOUND_PARAMS), dtype=np.uint8)
        n_cont = len(self.continuous)
        out[:, self.continuous] = np.rint(values(x[:, :n_cont], MAX[self.continuous]))
        for blocks, cols in self._bundles:  # (gates are read through their level, see _join)
            out[:, self.categorical[blocks]] = x[:, cols.numpy()].argmax(-1)
        return out

    def _gate(self, raw: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
        """The gates' (N, gates, 2) one-hots: each the more likely side, no noise (the voice's
        spikes follow from its noise vector, so they can go together as in real voices);
        straight through, the gradient of the softmax."""
        logits = raw[:, self._gate_cols.to(raw.device)]
        soft = torch.softmax(logits / tau, dim=-1)
        return F.one_hot(logits.argmax(-1), 2).to(raw.dtype) + (soft - soft.detach())  # exactly one-hot forward

    def _join(self, raw: torch.Tensor, probs: list[torch.Tensor], tau: float = 1.0) -> torch.Tensor:
        """tanh levels, then each bundle's (N, blocks, size) probabilities and the gates put
        back in codec order; a gated level is its spike where its gate says so (straight
        through: the gate's gradient flows to both sides)."""
        probs = [*probs, self._gate(raw, tau)]
        cat = torch.cat([p.flatten(1) for p in probs], dim=1)
        cat = cat[:, self._order.to(raw.device)]
        levels = torch.tanh(raw[:, : len(self.continuous)])
        if self.margin:
            levels = levels * (1 + self.margin)
            levels = levels + (levels.clamp(-1, 1) - levels).detach()
        if len(self.spiked):
            spiked = self._spiked.to(raw.device)
            at = cat[:, self._gates_joined.to(raw.device)]
            levels = levels.index_copy(1, spiked, at * self.spike_at.to(raw) + (1 - at) * levels[:, spiked])
        return torch.cat([levels, cat], dim=1)

    def spread(self, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """``widths`` (the dequantising half-gaps) for each voice of ``x``: none where a level
        sits at its spike, since a generated one sits there exactly."""
        if not len(self.spiked):
            return widths
        at = x[:, self._gates.to(x.device)]
        spiked = self._spiked.to(x.device)
        return widths.expand_as(x).index_copy(1, spiked, widths[spiked] * (1 - at))

    def finish(self, raw: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
        """Training: choices as straight-through Gumbel-softmax one-hots (hard forward, soft gradients)."""
        return self._join(
            raw,
            [F.gumbel_softmax(raw[:, cols.to(raw.device)], tau=tau, hard=True, dim=-1) for _, cols in self._bundles],
            tau,
        )

    def sample(
        self, raw: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Generation: each choice drawn from softmax(logits / temperature) (0: the most likely).
        Above 1 the temperature flattens the small choices only (at most ``max_choices``
        values); the named ones (transpose) are never drawn looser than trained: flattened,
        a 49-value transpose spreads voices over keys that real voices do not use.  The
        gates take their more likely side, as in training."""
        picks = []
        for _, cols in self._bundles:
            logits = raw[:, cols.to(raw.device)]
            t = temperature if cols.shape[1] <= self.max_choices else min(temperature, 1.0)
            if t <= 0:
                pick = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / t, dim=-1)
                pick = torch.multinomial(probs.flatten(0, 1), 1, generator=generator).view(probs.shape[:2])
            picks.append(F.one_hot(pick, cols.shape[1]).to(raw.dtype))
        return self._join(raw, picks)

    def set_algorithm(self, x: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        where = np.flatnonzero(self.continuous == _ALG)
        if len(where):
            x[:, int(where[0])] = 2 * algorithm.to(x.dtype) / MAX[_ALG] - 1
        else:
            start = int(self.starts[np.flatnonzero(self.categorical == _ALG)[0]])
            x[:, start : start + 32] = F.one_hot(algorithm.long(), 32).to(x.dtype)
        return x


@cache  # one codec per shape: a CGAN asks for it from its nets, its probe and its checks
def codec_of(
    arch: str,
    layout: str,
    max_choices: int,
    choices: tuple[str, ...] = (),
    spikes: tuple[tuple[int, int], ...] = (),
    margin: float = 0.0,
) -> Grid | Heads:
    return Grid(layout) if arch == "conv" else Heads(max_choices, choices, spikes, margin)
