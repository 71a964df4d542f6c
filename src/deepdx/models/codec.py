"""How a voice meets the networks: what the discriminator sees, and how the generator's raw
output becomes a voice.  Two representations, chosen by ``model.arch``:

``Grid`` (conv, the seed's): every parameter one cell of the 16x16 grid in [-1, 1]
    (:mod:`deepdx.corpus.encoding`); the generator's output goes through tanh and decoding
    rounds.  Small choices (a curve, a mode) come out as a value between two choices,
    rounded afterwards.

``Heads`` (mlp): one head per parameter.  A parameter with at most ``max_choices`` values
    (curves, modes, waveforms, small sensitivities...) gets a softmax over its values: the
    discriminator sees a one-hot vector, for generated voices through a straight-through
    Gumbel-softmax, so the generator learns to put its mass on real values.  The others
    (levels and rates, 0-99) get one tanh output each.  Sampling draws each choice from
    its softmax (``temperature`` sharpens or flattens it; 0 takes the most likely).

Both: ``encode`` (parameters -> the discriminator's input), ``finish`` (raw generator output
-> the same space), ``decode`` (that space -> valid parameters), ``widths`` (half the gap
between neighbouring values of each level, for dequantising real voices) and
``set_algorithm`` (conditioning writes the requested algorithm into the voice).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..corpus import encoding
from ..dx7.params import INDEX, MAX, N_SOUND_PARAMS

_ALG = INDEX["algorithm"]
_VALUES = MAX[:N_SOUND_PARAMS].astype(np.int64) + 1  # number of values of each sound parameter


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

    def sample(self, raw: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.finish(raw)

    def set_algorithm(self, x: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        """``algorithm``: stored values 0-31."""
        x = x.clone()
        x[:, self._alg_cell[0], self._alg_cell[1]] = 2 * algorithm.to(x.dtype) / MAX[_ALG] - 1
        return x


class Heads:
    def __init__(self, max_choices: int):
        self.max_choices = max_choices
        choice = _VALUES <= max_choices
        self.continuous = np.flatnonzero(~choice)  # parameter indices with a tanh head
        self.categorical = np.flatnonzero(choice)  # ... with a softmax head
        self.sizes = _VALUES[self.categorical]
        n_cont = len(self.continuous)
        self.starts = n_cont + np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.width = int(n_cont + self.sizes.sum())
        self.shape = (self.width,)
        widths = np.zeros(self.width, dtype=np.float32)
        widths[:n_cont] = 1.0 / MAX[self.continuous]
        self.widths = torch.from_numpy(widths)
        # the softmax blocks laid out as (block, value) in a padded square, for vectorised sampling
        biggest = int(self.sizes.max(initial=1))
        slot = np.arange(biggest)[None, :]
        self._valid = torch.from_numpy(slot < self.sizes[:, None])
        self._gather = torch.from_numpy(np.where(slot < self.sizes[:, None], self.starts[:, None] + slot, 0))

    def encode(self, params: np.ndarray) -> np.ndarray:
        sound = np.asarray(params)[:, :N_SOUND_PARAMS].astype(np.int64)
        x = np.zeros((len(sound), self.width), dtype=np.float32)
        x[:, :len(self.continuous)] = 2 * sound[:, self.continuous] / MAX[self.continuous] - 1
        rows = np.arange(len(sound))[:, None]
        x[rows, self.starts[None, :] + sound[:, self.categorical]] = 1
        return x

    def decode(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        out = np.zeros((len(x), N_SOUND_PARAMS), dtype=np.uint8)
        n_cont = len(self.continuous)
        out[:, self.continuous] = np.rint((np.clip(x[:, :n_cont], -1, 1) + 1) / 2 * MAX[self.continuous])
        blocks = np.where(self._valid.numpy(), x[:, self._gather.numpy()], -np.inf)
        out[:, self.categorical] = blocks.argmax(-1)
        return out

    def _blocks(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, blocks, biggest) logits, -inf where a block has no such value."""
        logits = raw[:, self._gather.to(raw.device)]
        return logits.masked_fill(~self._valid.to(raw.device), float("-inf"))

    def _join(self, raw: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        n_cont = len(self.continuous)
        valid = self._valid.to(raw.device)
        cat = torch.zeros(len(raw), self.width - n_cont, dtype=raw.dtype, device=raw.device)
        cat = cat.index_copy(1, self._gather.to(raw.device)[valid] - n_cont, probs[:, valid])
        return torch.cat([torch.tanh(raw[:, :n_cont]), cat], dim=1)

    def finish(self, raw: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
        """Training: choices as straight-through Gumbel-softmax one-hots (hard forward, soft gradients)."""
        return self._join(raw, F.gumbel_softmax(self._blocks(raw), tau=tau, hard=True, dim=-1))

    def sample(self, raw: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generation: each choice drawn from softmax(logits / temperature) (0: the most likely)."""
        logits = self._blocks(raw)
        if temperature <= 0:
            pick = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            pick = torch.multinomial(probs.flatten(0, 1), 1, generator=generator).view(probs.shape[:2])
        return self._join(raw, F.one_hot(pick, logits.shape[-1]).to(raw.dtype))

    def set_algorithm(self, x: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        where = np.flatnonzero(self.continuous == _ALG)
        if len(where):
            x[:, int(where[0])] = 2 * algorithm.to(x.dtype) / MAX[_ALG] - 1
        else:
            start = int(self.starts[np.flatnonzero(self.categorical == _ALG)[0]])
            x[:, start:start + 32] = F.one_hot(algorithm.long(), 32).to(x.dtype)
        return x


def codec_of(arch: str, layout: str, max_choices: int) -> Grid | Heads:
    return Grid(layout) if arch == "conv" else Heads(max_choices)
