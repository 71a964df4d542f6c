"""Generator and discriminator over the 16x16 voice grid, built from config (conf/model/*.yaml).

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
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import DeepDXError

GRID = 16


@dataclass
class NetConfig:
    """Architecture.  The scalar knobs (``layers``, ``kernel_size``, ``channels``) set every
    layer and are what sweeps turn; the per-layer lists, when given, override them."""

    latent: int = 100
    n_classes: int = 8
    embed: int = 50
    layers: int = 3  # transposed convolutions in G, convolutions in D
    kernel_size: int = 2  # every G layer, and every D layer after the first
    d_first_kernel: int = 4
    channels: int = 128
    g_kernels: list[int] | None = None
    g_channels: list[int] | None = None  # input channels of each G layer (the last outputs 1)
    d_kernels: list[int] | None = None
    d_channels: list[int] | None = None  # output channels of each D layer
    stride: int = 2
    features: int = 100
    slope: float = 0.2
    g_norm: str = "none"  # none | batch
    d_norm: str = "none"  # none | spectral
    conditional: str = "none"  # none | projection
    minibatch_std: bool = False

    def __post_init__(self):
        n = self.layers
        self.g_kernels = [int(k) for k in (self.g_kernels or [self.kernel_size] * n)]
        self.g_channels = [int(c) for c in (self.g_channels or [self.channels] * n)]
        self.d_kernels = [int(k) for k in (self.d_kernels or [self.d_first_kernel] + [self.kernel_size] * (n - 1))]
        self.d_channels = [int(c) for c in (self.d_channels or [max(1, self.channels // 2)] + [self.channels] * (n - 1))]
        if len(self.g_kernels) != len(self.g_channels) or len(self.d_kernels) != len(self.d_channels):
            raise DeepDXError("each layer needs a kernel size and a channel count: the lists must be as long")
        for kernels in (self.g_kernels, self.d_kernels):
            start = GRID / self.stride ** len(kernels)
            if start < 1 or start != int(start):
                raise DeepDXError(f"{len(kernels)} layers of stride {self.stride} do not divide 16 into whole cells")
        if self.g_norm not in ("none", "batch") or self.d_norm not in ("none", "spectral"):
            raise DeepDXError(f"unknown normalisation g_norm={self.g_norm!r} d_norm={self.d_norm!r}")
        if self.conditional not in ("none", "projection"):
            raise DeepDXError(f"conditional must be none or projection, got {self.conditional!r}")


def _padding(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) so a layer scales the size by exactly ``stride``."""
    pad = max(0, math.ceil((kernel - stride) / 2))
    return pad, 2 * pad - (kernel - stride)


class Generator(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.start = GRID // cfg.stride ** len(cfg.g_kernels)
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed)
        self.project = nn.Linear(cfg.latent + cfg.embed, cfg.g_channels[0] * self.start**2)
        layers: list[nn.Module] = []
        channels = cfg.g_channels + [1]
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
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        sn = spectral_norm if cfg.d_norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = [MinibatchStd()] if cfg.minibatch_std else []
        channels = [1 + int(cfg.minibatch_std)] + cfg.d_channels
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
