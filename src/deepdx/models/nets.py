"""Generator and discriminator over the 16x16 voice grid, built from ``model`` (deepdx.config.ModelConfig).

Generator: noise ``z`` with a learned category embedding appended, a linear layer to a
small ``channels x s x s`` map, then ``len(g_kernels)`` transposed convolutions that each
multiply the size by ``stride`` up to 16x16; LeakyReLU between, tanh last (the seed).

Discriminator: convolutions that each divide the size by ``stride``, then a linear layer
to a feature vector (the seed's 100 values in [-1, 1], tanh) and a real/fake score.
Unconditional by default (the seed); ``conditional: projection`` adds the projection term
<embed(category), features> (Miyato & Koyama 2018) so that it judges category too.
Optional minibatch standard deviation (Karras et al. 2018) lets it see a batch's
diversity, a classic remedy against collapse.

Any kernel size works, odd ones included: padding is chosen so every layer scales the
size by exactly ``stride``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import CONDITIONING, D_NORMS, G_NORMS, ModelConfig, check_choice
from ..errors import DeepDXError

GRID = 16


@dataclass(frozen=True)
class Architecture:
    """The nets' shape, every layer spelled out: what ``generator.pt`` records.  Built from
    the model config by :meth:`of` (the config's scalar knobs expanded per layer)."""

    latent: int
    n_classes: int
    embed: int
    g_kernels: tuple[int, ...]
    g_channels: tuple[int, ...]  # input channels of each G layer (the last outputs 1)
    d_kernels: tuple[int, ...]
    d_channels: tuple[int, ...]  # output channels of each D layer
    stride: int
    features: int
    slope: float
    g_norm: str
    d_norm: str
    conditional: str
    minibatch_std: bool

    @classmethod
    def of(cls, model: ModelConfig, n_classes: int) -> "Architecture":
        n = model.layers
        arch = cls(latent=model.latent, n_classes=n_classes, embed=model.embed,
                   g_kernels=tuple(model.g_kernels or [model.kernel_size] * n),
                   g_channels=tuple(model.g_channels or [model.channels] * n),
                   d_kernels=tuple(model.d_kernels or [model.d_first_kernel] + [model.kernel_size] * (n - 1)),
                   d_channels=tuple(model.d_channels or [max(1, model.channels // 2)] + [model.channels] * (n - 1)),
                   stride=model.stride, features=model.features, slope=model.slope, g_norm=model.g_norm,
                   d_norm=model.d_norm, conditional=model.conditional, minibatch_std=model.minibatch_std)
        arch.check()
        return arch

    def check(self) -> None:
        """Also run on what a generator.pt file says (see load_generator), not only on the config."""
        check_choice("model", "g_norm", self.g_norm, G_NORMS)
        check_choice("model", "d_norm", self.d_norm, D_NORMS)
        check_choice("model", "conditional", self.conditional, CONDITIONING)
        if len(self.g_kernels) != len(self.g_channels) or len(self.d_kernels) != len(self.d_channels):
            raise DeepDXError("each layer needs a kernel size and a channel count: the lists must be as long")
        for kernels in (self.g_kernels, self.d_kernels):
            start = GRID / self.stride ** len(kernels)
            if start < 1 or start != int(start):
                raise DeepDXError(f"{len(kernels)} layers of stride {self.stride} do not divide 16 into whole cells")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "Architecture":
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in values]
        if missing:
            raise DeepDXError(f"architecture lacks {missing}")
        arch = cls(**{n: tuple(values[n]) if isinstance(values[n], list) else values[n] for n in names})
        arch.check()
        return arch


def _padding(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) so a layer scales the size by exactly ``stride``."""
    pad = max(0, math.ceil((kernel - stride) / 2))
    return pad, 2 * pad - (kernel - stride)


class Generator(nn.Module):
    def __init__(self, cfg: Architecture):
        super().__init__()
        self.cfg = cfg
        self.start = GRID // cfg.stride ** len(cfg.g_kernels)
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed)
        self.project = nn.Linear(cfg.latent + cfg.embed, cfg.g_channels[0] * self.start**2)
        layers: list[nn.Module] = []
        channels = [*cfg.g_channels, 1]
        for i, k in enumerate(cfg.g_kernels):
            pad, out_pad = _padding(k, cfg.stride)
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], k, cfg.stride, pad, out_pad))
            if i < len(cfg.g_kernels) - 1:
                if cfg.g_norm == "batch":
                    layers.append(nn.BatchNorm2d(channels[i + 1]))
                layers.append(nn.LeakyReLU(cfg.slope))
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.embed(category)], dim=1))
        h = nn.functional.leaky_relu(h, self.cfg.slope)
        h = h.view(len(z), self.cfg.g_channels[0], self.start, self.start)
        return self.net(h).view(len(z), GRID, GRID)


class MinibatchStd(nn.Module):
    """Appends one channel: the batch's mean standard deviation, so a collapsed batch shows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.std(dim=0, unbiased=False).mean().expand(len(x), 1, *x.shape[2:])
        return torch.cat([x, std], dim=1)


class Discriminator(nn.Module):
    def __init__(self, cfg: Architecture):
        super().__init__()
        self.cfg = cfg
        sn = spectral_norm if cfg.d_norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = [MinibatchStd()] if cfg.minibatch_std else []
        channels = [1 + int(cfg.minibatch_std), *cfg.d_channels]
        for i, k in enumerate(cfg.d_kernels):
            pad, _ = _padding(k, cfg.stride)
            layers += [sn(nn.Conv2d(channels[i], channels[i + 1], k, cfg.stride, pad)), nn.LeakyReLU(cfg.slope)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        end = GRID // cfg.stride ** len(cfg.d_kernels)
        self.features = nn.Sequential(sn(nn.Linear(cfg.d_channels[-1] * end**2, cfg.features)), nn.Tanh())
        self.score = sn(nn.Linear(cfg.features, 1))
        self.embed = sn(nn.Embedding(cfg.n_classes, cfg.features)) if cfg.conditional == "projection" else None

    def forward(self, grid: torch.Tensor, category: torch.Tensor | None = None) -> torch.Tensor:
        f = self.features(self.net(grid.unsqueeze(1)))
        out = self.score(f).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(category) * f).sum(1)
        return out


def load_generator(path: str | Path) -> tuple[Generator, dict]:
    """The generator from ``generator.pt`` (see CGAN.export), read without unpickling code
    (``weights_only``); returns it in eval mode with the file's other entries (mask, layout)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        generator = Generator(Architecture.from_dict(state["net"]))
        generator.load_state_dict(state["generator"])
    except DeepDXError as exc:
        raise DeepDXError(f"{path}: {exc}") from None
    except Exception as exc:  # not a zip, not weights only, keys or shapes that do not fit
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DeepDXError(f"{path}: not a DeepDX generator file ({reason})") from None
    generator.eval()
    return generator, state
