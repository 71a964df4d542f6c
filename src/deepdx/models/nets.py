"""Generator and discriminator, built from ``model`` (deepdx.config.ModelConfig).

Both see a voice in the representation of :mod:`deepdx.models.codec`.  Three architectures
(``model.arch``):

``conv`` (the seed's): the 16x16 grid.  Generator: noise with a learned category embedding
(and, with ``algorithm_embed`` > 0, an algorithm embedding) appended, a linear layer to a
small ``channels x s x s`` map, then transposed convolutions that each multiply the size by
``stride`` up to 16x16; LeakyReLU between, tanh last.  Discriminator: convolutions that
each divide the size by ``stride``, a linear layer to ``features`` values in [-1, 1] (tanh)
and a score.  Any kernel size works, odd ones included: padding is chosen so every layer
scales the size by exactly ``stride``.

``mlp``: the parameter vector with one head per parameter (codec ``Heads``).  Generator:
the same conditioned input, a linear layer to ``hidden`` units and ``layers`` residual
blocks, then the heads.  Discriminator: a linear layer to ``hidden`` units, ``layers``
residual blocks, the features and a score.

``operators``: the mlp's heads and discriminator, and a generator of tokens: the
conditioned input, a linear layer to seven tokens (the six operators, the voice's globals),
``layers`` pre-norm transformer blocks of ``token_width`` units and ``attention_heads``
heads, then each token's own linear layer to the heads of its parameters.  Measured against
the mlp on validation voices, it lost at 1.33x the time (docs/decisions.md).

Every discriminator: optional spectral norm; optional minibatch standard deviation
(Karras et al. 2018: it sees a batch's spread, against collapse); unconditional (the seed)
or with projection terms for the category and, when the generator is conditioned on it,
the algorithm (Miyato & Koyama 2018), so that they judge what was asked for; optionally an
auxiliary classifier of the category on the same features (AC-GAN, Odena et al. 2017).
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import (
    ARCHS,
    CONDITIONING,
    D_NORMS,
    G_NORMS,
    LAYOUTS,
    LEVEL_MARGIN_MEANING,
    ModelConfig,
    check_choice,
    check_share,
    check_tokens,
    knob_ok,
)
from ..errors import DeepDXError
from .codec import Knobs, codec_of
from .flow import FlowGenerator, load_flow
from .sound import SoundFeatures
from .sound import readable as sound_readable

GRID = 16
N_ALGORITHMS = 32


@dataclass(frozen=True)
class Architecture:
    """The nets' shape, every layer spelled out: what ``generator.pt`` records.  Built from
    the model config by :meth:`of` (the config's scalar knobs expanded per layer)."""

    arch: str
    layout: str
    max_choices: int
    latent: int
    n_classes: int
    embed: int
    algorithm_embed: int  # 0: the generator is not told the algorithm (the seed)
    hidden: int
    layers: int
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
    sound_features: bool = False  # absent from generator files of before it: the generator is the same
    choices: tuple[str, ...] = ()  # mlp: parameters with a softmax head beyond max_choices (codec.Heads)
    sound_roles: bool = False  # the sound features' amplitudes by role (carrier, modulator); absent before it
    spikes: tuple[
        tuple[int, int], ...
    ] = ()  # mlp: gated levels, (parameter, value) (codec.spikes_of); absent before them
    aux_classifier: bool = False  # D also classifies voices by category (model.aux_class); absent before it
    level_margin: float = (
        0.0  # mlp: the levels' tanh stretched by this beyond their range, then clipped (codec.Heads); absent before it
    )
    token_width: int = 0  # operators: units per token; absent before it (0: not that arch)
    attention_heads: int = 0  # operators: attention heads

    @classmethod
    def of(cls, model: ModelConfig, n_classes: int, layout: str, spikes: tuple = ()) -> "Architecture":
        """``spikes``: found in the group's training voices (codec.spikes_of), mlp only."""
        n = model.layers
        arch = cls(
            arch=model.arch,
            layout=layout,
            max_choices=model.max_choices,
            latent=model.latent,
            n_classes=n_classes,
            embed=model.embed,
            algorithm_embed=model.algorithm_embed,
            hidden=model.hidden,
            layers=n,
            g_kernels=tuple(model.g_kernels or [model.kernel_size] * n),
            g_channels=tuple(model.g_channels or [model.channels] * n),
            d_kernels=tuple(model.d_kernels or [model.d_first_kernel] + [model.kernel_size] * (n - 1)),
            d_channels=tuple(model.d_channels or [max(1, model.channels // 2)] + [model.channels] * (n - 1)),
            stride=model.stride,
            features=model.features,
            slope=model.slope,
            g_norm=model.g_norm,
            d_norm=model.d_norm,
            conditional=model.conditional,
            minibatch_std=model.minibatch_std,
            choices=tuple(model.choices),
            spikes=tuple(tuple(int(v) for v in s) for s in spikes),
            aux_classifier=model.aux_class > 0,
            level_margin=float(model.level_margin) if model.arch != "conv" else 0.0,
            token_width=model.token_width if model.arch == "operators" else 0,
            attention_heads=model.attention_heads if model.arch == "operators" else 0,
        )
        fit = arch.sound_features_fit
        arch = replace(
            arch,
            sound_features=model.sound_features and fit(),
            sound_roles=model.sound_features and model.sound_roles and fit(roles=True),
        )
        arch.check()
        return arch

    def check(self) -> None:
        """Also run on what a generator.pt file says (see load_generator), not only on the config."""
        check_choice("model", "arch", self.arch, ARCHS)
        check_choice("encoding", "layout", self.layout, LAYOUTS)
        check_choice("model", "g_norm", self.g_norm, G_NORMS)
        check_choice("model", "d_norm", self.d_norm, D_NORMS)
        check_choice("model", "conditional", self.conditional, CONDITIONING)
        sizes = {"latent": self.latent, "embed": self.embed, "hidden": self.hidden, "features": self.features}
        for name, size in sizes.items():  # bounds, before anything is allocated from a file's word
            if not 1 <= size <= 4096:
                raise DeepDXError(f"model.{name} must be between 1 and 4096; got {size}")
        if not 0 <= self.algorithm_embed <= 256 or not 1 <= self.n_classes <= 256 or not 0 <= self.layers <= 16:
            raise DeepDXError("model.algorithm_embed, the class count or model.layers out of bounds")
        if self.sound_features and not self.sound_features_fit():
            raise DeepDXError(
                "model.sound_features needs output levels and coarse and fine frequencies as "
                "tanh outputs: arch mlp, max_choices below 32 and none of them in model.choices"
            )
        if self.sound_roles and not (self.sound_features and self.sound_features_fit(roles=True)):
            raise DeepDXError(
                "model.sound_roles needs model.sound_features and the algorithm as a tanh output (not in model.choices)"
            )
        check_share("model", "level_margin", self.level_margin, LEVEL_MARGIN_MEANING)
        if self.arch == "operators":
            check_tokens(self.token_width, self.attention_heads)
        if self.arch != "conv":
            self.codec()  # refuses spikes that are not levels with a tanh head
            return
        if self.spikes or self.level_margin:
            raise DeepDXError("spikes and model.level_margin belong to the mlp's heads; arch conv has none")
        if len(self.g_kernels) != len(self.g_channels) or len(self.d_kernels) != len(self.d_channels):
            raise DeepDXError("each layer needs a kernel size and a channel count: the lists must be as long")
        for kernels in (self.g_kernels, self.d_kernels):
            start = GRID / self.stride ** len(kernels)
            if start < 1 or start != int(start):
                raise DeepDXError(f"{len(kernels)} layers of stride {self.stride} do not divide 16 into whole cells")

    def codec(self):
        return codec_of(self.arch, self.layout, self.max_choices, self.choices, self.spikes, self.level_margin)

    def sound_features_fit(self, roles: bool = False) -> bool:
        """Whether the representation carries what SoundFeatures reads (levels, coarse and fine
        frequencies, with ``roles`` the algorithm too, as tanh outputs): elsewhere
        ``model.sound_features`` (``model.sound_roles``) has no effect."""
        return sound_readable(self.codec(), roles)

    def to_dict(self) -> dict:
        return {k: _lists(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "Architecture":
        names = [f.name for f in fields(cls) if f.name in values]
        missing = [f.name for f in fields(cls) if f.name not in values and f.default is MISSING]
        if missing:
            raise DeepDXError(f"architecture lacks {missing}")
        arch = cls(**{n: _tuples(values[n]) for n in names})
        arch.check()
        return arch


def _lists(v):
    return [_lists(x) for x in v] if isinstance(v, (list, tuple)) else v


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def _padding(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) so a layer scales the size by exactly ``stride``."""
    pad = max(0, math.ceil((kernel - stride) / 2))
    return pad, 2 * pad - (kernel - stride)


class _Conditioned(nn.Module):
    """Noise + category embedding (+ algorithm embedding): the generator's input."""

    def __init__(self, cfg: Architecture):
        super().__init__()
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed)
        self.algorithm = nn.Embedding(N_ALGORITHMS, cfg.algorithm_embed) if cfg.algorithm_embed else None
        self.width = cfg.latent + cfg.embed + cfg.algorithm_embed

    def forward(self, z: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor | None) -> torch.Tensor:
        parts = [z, self.embed(category)]
        if self.algorithm is not None:
            parts.append(self.algorithm(algorithm))
        return torch.cat(parts, dim=1)


class ConvGenerator(nn.Module):
    def __init__(self, cfg: Architecture):
        super().__init__()
        self.cfg = cfg
        self.start = GRID // cfg.stride ** len(cfg.g_kernels)
        self.inputs = _Conditioned(cfg)
        self.project = nn.Linear(self.inputs.width, cfg.g_channels[0] * self.start**2)
        layers: list[nn.Module] = []
        channels = [*cfg.g_channels, 1]
        for i, k in enumerate(cfg.g_kernels):
            pad, out_pad = _padding(k, cfg.stride)
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], k, cfg.stride, pad, out_pad))
            if i < len(cfg.g_kernels) - 1:
                if cfg.g_norm == "batch":
                    layers.append(nn.BatchNorm2d(channels[i + 1]))
                layers.append(nn.LeakyReLU(cfg.slope))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor | None = None) -> torch.Tensor:
        """Raw output, before the codec's tanh (see codec.Grid.finish)."""
        h = nn.functional.leaky_relu(self.project(self.inputs(z, category, algorithm)), self.cfg.slope)
        h = h.view(len(z), self.cfg.g_channels[0], self.start, self.start)
        return self.net(h).view(len(z), GRID, GRID)


class _Residual(nn.Module):
    def __init__(self, width: int, slope: float, wrap=lambda m: m, norm: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            *([nn.BatchNorm1d(width)] if norm else []), nn.LeakyReLU(slope), wrap(nn.Linear(width, width))
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.body(h)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: Architecture):
        super().__init__()
        self.cfg = cfg
        self.inputs = _Conditioned(cfg)
        width = cfg.codec().width
        self.net = nn.Sequential(
            nn.Linear(self.inputs.width, cfg.hidden),
            *[_Residual(cfg.hidden, cfg.slope, norm=cfg.g_norm == "batch") for _ in range(cfg.layers)],
            nn.LeakyReLU(cfg.slope),
            nn.Linear(cfg.hidden, width),
        )

    def forward(self, z: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor | None = None) -> torch.Tensor:
        """Raw output: pre-tanh levels, then the choices' logits (see codec.Heads)."""
        return self.net(self.inputs(z, category, algorithm))


class _TokenBlock(nn.Module):
    """A pre-norm transformer block: the tokens attend to each other, then each passes through
    the same two-layer MLP."""

    def __init__(self, width: int, heads: int, slope: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attend = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.LeakyReLU(slope), nn.Linear(2 * width, width))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.norm1(h)
        h = h + self.attend(x, x, x, need_weights=False)[0]
        return h + self.mlp(self.norm2(h))


class OperatorGenerator(nn.Module):
    """The conditioned input, a linear layer to seven tokens (the six operators in VCED order,
    then the voice's globals) plus a learned position for each, ``layers`` transformer blocks,
    then each token's own linear layer to the heads of its parameters (codec.Heads.blocks):
    the operators are processed alike and in relation to each other, as the algorithm wires them."""

    def __init__(self, cfg: Architecture):
        super().__init__()
        self.cfg = cfg
        self.inputs = _Conditioned(cfg)
        blocks = cfg.codec().blocks()
        n, width = int(blocks.max()) + 1, cfg.token_width
        self.tokens = n
        self.project = nn.Linear(self.inputs.width, n * width)
        self.position = nn.Parameter(torch.zeros(n, width))
        self.blocks = nn.Sequential(*[_TokenBlock(width, cfg.attention_heads, cfg.slope) for _ in range(cfg.layers)])
        self.heads = nn.ModuleList([nn.Linear(width, int((blocks == t).sum())) for t in range(n)])
        order = np.concatenate([np.flatnonzero(blocks == t) for t in range(n)])
        self.register_buffer(
            "order", torch.from_numpy(np.argsort(order)), persistent=False
        )  # token order -> codec order

    def forward(self, z: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor | None = None) -> torch.Tensor:
        """Raw output in codec order, as MLPGenerator's."""
        h = self.project(self.inputs(z, category, algorithm)).view(len(z), self.tokens, -1) + self.position
        h = nn.functional.leaky_relu(self.blocks(h), self.cfg.slope)
        return torch.cat([head(h[:, t]) for t, head in enumerate(self.heads)], dim=1)[:, self.order]


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
        if cfg.arch == "conv":
            layers: list[nn.Module] = [nn.Unflatten(1, (1, GRID))]
            layers += [MinibatchStd()] if cfg.minibatch_std else []
            channels = [1 + int(cfg.minibatch_std), *cfg.d_channels]
            for i, k in enumerate(cfg.d_kernels):
                pad, _ = _padding(k, cfg.stride)
                layers += [sn(nn.Conv2d(channels[i], channels[i + 1], k, cfg.stride, pad)), nn.LeakyReLU(cfg.slope)]
            end = GRID // cfg.stride ** len(cfg.d_kernels)
            self.net = nn.Sequential(*layers, nn.Flatten())
            self.features = nn.Sequential(sn(nn.Linear(cfg.d_channels[-1] * end**2, cfg.features)), nn.Tanh())
        else:
            codec = cfg.codec()
            sound = [SoundFeatures(codec, cfg.sound_roles)] if cfg.sound_features else []
            self.net = nn.Sequential(
                *sound,
                sn(nn.Linear(codec.width + sum(f.extra for f in sound), cfg.hidden)),
                *[_Residual(cfg.hidden, cfg.slope, sn) for _ in range(cfg.layers)],
                nn.LeakyReLU(cfg.slope),
                *([MinibatchStd()] if cfg.minibatch_std else []),
            )
            self.features = nn.Sequential(
                sn(nn.Linear(cfg.hidden + int(cfg.minibatch_std), cfg.features)), nn.LeakyReLU(cfg.slope)
            )
        self.score = sn(nn.Linear(cfg.features, 1))
        projection = cfg.conditional == "projection"
        self.embed = sn(nn.Embedding(cfg.n_classes, cfg.features)) if projection else None
        self.algorithm = sn(nn.Embedding(N_ALGORITHMS, cfg.features)) if projection and cfg.algorithm_embed else None
        self.classify = nn.Linear(cfg.features, cfg.n_classes) if cfg.aux_classifier else None

    def forward(
        self,
        x: torch.Tensor,
        category: torch.Tensor | None = None,
        algorithm: torch.Tensor | None = None,
        classify: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The score of each voice (real: high); with ``classify``, also the auxiliary
        classifier's category logits, read from the same features."""
        if classify and self.classify is None:
            raise DeepDXError("this discriminator has no auxiliary classifier (built with model.aux_class = 0)")
        f = self.features(self.net(x))
        out = self.score(f).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(category) * f).sum(1)
        if self.algorithm is not None:
            out = out + (self.algorithm(algorithm) * f).sum(1)
        return (out, self.classify(f)) if classify else out


def Generator(cfg: Architecture) -> nn.Module:  # noqa: N802 (a factory that reads like the class it makes)
    return {"conv": ConvGenerator, "mlp": MLPGenerator, "operators": OperatorGenerator}[cfg.arch](cfg)


class VoiceGenerator(Knobs, nn.Module):
    """A trained generator with its codec: category and algorithm in, valid voices out;
    ``temperature`` and ``truncation``: how it samples unless told otherwise (as calibrated
    on validation voices after training, see deepdx.models.calibrate)."""

    def __init__(self, cfg: Architecture, temperature: float = 1.0, truncation: float = 1.0):
        super().__init__()
        self.cfg = cfg
        self.G = Generator(cfg)
        self.codec = cfg.codec()
        self.temperature, self.truncation = float(temperature), float(truncation)

    def sampling(self, temperature: float | None = None, truncation: float | None = None) -> dict[str, float]:
        """The same as {"temperature": ..., "truncation": ...}: what generator files and reports keep."""
        return dict(zip(("temperature", "truncation"), self.knobs(temperature, truncation)))

    @torch.no_grad()
    def sample(
        self,
        category: torch.Tensor,
        algorithm: torch.Tensor,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
        truncation: float | None = None,
    ) -> np.ndarray:
        """N x 145 valid parameters.  ``algorithm``: stored values 0-31 (the generator is told
        them when it was trained so, and they are written into the voices either way);
        ``truncation`` < 1 shrinks the noise towards its mean, ``temperature`` sharpens (< 1)
        or flattens (> 1) the choices: both trade variety for typicality (None: the generator's own)."""
        temperature, truncation = self.knobs(temperature, truncation)
        z = torch.randn(len(category), self.cfg.latent, generator=generator) * truncation
        x = self.codec.sample(self.G(z, category, algorithm), temperature, generator)
        return self.codec.decode(self.codec.set_algorithm(x, algorithm).numpy())


def load_generator(path: str | Path) -> VoiceGenerator | FlowGenerator:
    """The generator from ``generator.pt`` (see CGAN.export; a flow's, deepdx.models.flow), read without unpickling code
    (``weights_only``), checked before anything is built; in eval mode."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and state.get("family") == "flow":
            return load_flow(state)
        # how to sample (deepdx.models.calibrate); absent from files of before it: 1 and 1
        sampling = {k: float(v) for k, v in state.get("sampling", {}).items() if k in ("temperature", "truncation")}
        if not all(knob_ok(v) for v in sampling.values()):
            raise DeepDXError(f"sampling knobs out of range: {sampling}")
        model = VoiceGenerator(Architecture.from_dict(state["net"]), **sampling)
        model.G.load_state_dict(state["generator"])
    except DeepDXError as exc:
        raise DeepDXError(f"{path}: {exc}") from None
    except Exception as exc:  # not a zip, not weights only, keys or shapes that do not fit
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DeepDXError(f"{path}: not a DeepDX generator file ({reason})") from None
    return model.eval()
