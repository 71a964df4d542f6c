"""The second model family: conditional flow matching (``model.family: flow``).

A velocity network learns to carry Gaussian noise to voices along straight lines (rectified
flow, Liu et al. 2023; flow matching, Lipman et al. 2023): for a training voice x1, noise x0
and a time t in [0, 1], it is asked for x1 - x0 at x_t = (1 - t) x0 + t x1, given t, the
voice's category and its algorithm.  Sampling integrates that velocity from fresh noise at
t = 0 to t = 1 (``flow_steps`` steps of Euler or Heun).  Where a GAN's generator may drop the
voices' rarer modes, the flow's objective covers every training voice by construction.

The voice's space (:class:`FlowCodec`): the mlp's heads without gates, every level (rates,
levels, ratios: 0-99 and the like) a number in [-1, 1], spread over its rounding bin while
training (``dequantize``); every few-valued parameter (switches, curves, waveforms, modes,
``max_choices`` values or fewer, and ``choices`` such as transpose) a block of one coordinate
per value, +1 for the value held and -1 for the others.  Decoding rounds the levels and takes
each block's largest coordinate: every output is a valid value, exactly.

Classifier-free guidance (Ho & Salimans 2022): training shows ``flow_drop_category`` of the
voices with no category (an extra embedding), so the one network also learns the
unconditional velocity v_u beside the conditional v_c.  Sampling follows
v_u + guidance (v_c - v_u): 0 is the unconditional path, 1 the conditional one, above 1 a
voice more surely of its category and less varied.  The algorithm is always given: it is
asked for, and written into the voice.

What a flow gives beyond fresh draws (:class:`FlowGenerator`): ``vary`` (a voice noised
part-way back along its path and carried forward again: strength 0 the voice itself, 1 a
fresh draw of its category) and ``complete`` (chosen parameters held on their own path at
every step, so the rest is generated consistent with them; the kept values come out as given).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from ..config import SAMPLERS, ModelConfig, check_choice, knob_ok
from ..dx7.params import INDEX, N_SOUND_PARAMS
from ..errors import DeepDXError
from .codec import Heads, Knobs

N_ALGORITHMS = 32
_ALG = INDEX["algorithm"]


class FlowCodec(Heads):
    """The mlp's heads with no gates and no margin, one-hot blocks at -1 / +1 (see above)."""

    def __init__(self, max_choices: int, choices: tuple[str, ...] = ()):
        super().__init__(max_choices, choices)
        self.one_hot = np.arange(len(self.continuous), self.width)  # the blocks' columns

    def encode(self, params: np.ndarray) -> np.ndarray:
        x = super().encode(params)
        x[:, self.one_hot] = 2 * x[:, self.one_hot] - 1
        return x

    def choose(self, x: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """Each block's value drawn from softmax(its coordinates / ``temperature``), as a +1 / -1
        block (0: left as it is, so decoding takes the largest).  At the end of the path a block is
        near +1 / -1 where the network is sure; between, where it is not, and its largest
        coordinate alone would always give the likelier value (too few of the rarer ones)."""
        if temperature <= 0:
            return x
        x = x.clone()
        for _, cols in self._bundles:
            probs = torch.softmax(x[:, cols] / temperature, dim=-1)
            pick = torch.multinomial(probs.flatten(0, 1), 1, generator=generator).view(probs.shape[:2])
            x[:, cols] = 2 * torch.nn.functional.one_hot(pick, cols.shape[1]).to(x.dtype) - 1
        return x

    def columns(self, params: np.ndarray) -> np.ndarray:
        """The columns that encode the sound parameters ``params`` (indices 0-144)."""
        wanted = set(int(p) for p in params)
        levels = [i for i, p in enumerate(self.continuous) if p in wanted]
        blocks = [
            np.arange(self.starts[b], self.starts[b] + self.sizes[b])
            for b, p in enumerate(self.categorical)
            if p in wanted
        ]
        return np.concatenate([np.array(levels, dtype=np.int64), *blocks]).astype(np.int64)


@dataclass(frozen=True)
class FlowArchitecture:
    """The velocity network's shape and the sampler: what a flow's ``generator.pt`` records."""

    max_choices: int
    choices: tuple[str, ...]
    n_classes: int
    hidden: int
    layers: int
    embed: int
    algorithm_embed: int
    steps: int  # solver steps when sampling
    sampler: str  # euler | heun
    family: str = "flow"

    @classmethod
    def of(cls, model: ModelConfig, n_classes: int) -> "FlowArchitecture":
        arch = cls(
            max_choices=model.max_choices,
            choices=tuple(model.choices),
            n_classes=n_classes,
            hidden=model.hidden,
            layers=model.layers,
            embed=model.embed,
            algorithm_embed=model.algorithm_embed,
            steps=model.flow_steps,
            sampler=model.flow_sampler,
        )
        arch.check()
        return arch

    def check(self) -> None:
        """Also run on what a generator.pt file says, before anything is allocated from it."""
        check_choice("model", "flow_sampler", self.sampler, SAMPLERS)
        if self.family != "flow":
            raise DeepDXError(f"not a flow architecture: family {self.family!r}")
        if not (1 <= self.hidden <= 4096 and 0 <= self.layers <= 16 and 1 <= self.n_classes <= 256):
            raise DeepDXError("model.hidden, model.layers or the class count out of bounds")
        if not (1 <= self.embed <= 4096 and 0 <= self.algorithm_embed <= 256 and 1 <= self.steps <= 1000):
            raise DeepDXError("model.embed, model.algorithm_embed or model.flow_steps out of bounds")
        self.codec()

    def codec(self) -> FlowCodec:
        return _codec(self.max_choices, self.choices)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "FlowArchitecture":
        try:
            arch = cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})
        except TypeError as exc:
            raise DeepDXError(f"flow architecture incomplete: {exc}") from None
        arch = FlowArchitecture(**{**asdict(arch), "choices": tuple(arch.choices)})
        arch.check()
        return arch


_codecs: dict[tuple, FlowCodec] = {}


def _codec(max_choices: int, choices: tuple[str, ...]) -> FlowCodec:
    if (max_choices, choices) not in _codecs:
        _codecs[max_choices, choices] = FlowCodec(max_choices, choices)
    return _codecs[max_choices, choices]


class _Block(nn.Module):
    """A residual block told the condition: h + W2 silu(W1 norm(h) + Wc c)."""

    def __init__(self, width: int, condition: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner, self.outer = nn.Linear(width, width), nn.Linear(width, width)
        self.condition = nn.Linear(condition, width)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return h + self.outer(nn.functional.silu(self.inner(self.norm(h)) + self.condition(c)))


class VelocityNet(nn.Module):
    """(x_t, t, category, algorithm) -> velocity.  Category ``n_classes`` is "none" (guidance)."""

    FREQUENCIES = 16  # t enters as the sine and cosine of t times 16 frequencies, log-spaced from 1 to 1000

    def __init__(self, cfg: FlowArchitecture):
        super().__init__()
        width = cfg.codec().width
        self.category = nn.Embedding(cfg.n_classes + 1, cfg.embed)
        self.algorithm = nn.Embedding(N_ALGORITHMS, cfg.algorithm_embed) if cfg.algorithm_embed else None
        self.register_buffer("frequencies", torch.exp(torch.linspace(0, math.log(1000), self.FREQUENCIES)))
        condition = cfg.embed + cfg.algorithm_embed + 2 * self.FREQUENCIES
        self.input = nn.Linear(width, cfg.hidden)
        self.blocks = nn.ModuleList([_Block(cfg.hidden, condition) for _ in range(cfg.layers)])
        self.output = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, width))

    def forward(self, x: torch.Tensor, t: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor):
        angle = t[:, None] * self.frequencies
        parts = [self.category(category), torch.sin(angle), torch.cos(angle)]
        if self.algorithm is not None:
            parts.insert(1, self.algorithm(algorithm))
        c = torch.cat(parts, dim=1)
        h = self.input(x)
        for block in self.blocks:
            h = block(h, c)
        return self.output(h)


class FlowGenerator(Knobs, nn.Module):
    """A trained flow behind the generator interface (deepdx.models.nets.VoiceGenerator's):
    category and algorithm in, valid voices out.  ``truncation`` scales the starting noise
    (above 1 spreads the voices); ``guidance`` is the classifier-free guidance weight (see the
    module's text); ``temperature`` how the few-valued blocks are read at the end (0: each its
    largest coordinate; above, drawn, see FlowCodec.choose); all as calibrated on validation
    voices unless told otherwise."""

    def __init__(self, cfg: FlowArchitecture, temperature: float = 0.0, truncation: float = 1.0, guidance: float = 1.0):
        super().__init__()
        self.cfg = cfg
        self.net = VelocityNet(cfg)
        self.codec = cfg.codec()
        self.temperature, self.truncation, self.guidance = float(temperature), float(truncation), float(guidance)

    def sampling(self, temperature: float | None = None, truncation: float | None = None) -> dict[str, float]:
        t, psi = self.knobs(temperature, truncation)
        return {"temperature": t, "truncation": psi, "guidance": self.guidance}

    def velocity(self, x, t, category, algorithm, guidance: float) -> torch.Tensor:
        """v_u + guidance (v_c - v_u); at 0 and 1 one pass of the network, not two."""
        tt = torch.full((len(x),), float(t))
        none = torch.full_like(category, self.cfg.n_classes)
        if guidance == 0:
            return self.net(x, tt, none, algorithm)
        if guidance == 1:
            return self.net(x, tt, category, algorithm)
        both = self.net(x.repeat(2, 1), tt.repeat(2), torch.cat([category, none]), algorithm.repeat(2))
        conditional, unconditional = both[: len(x)], both[len(x) :]
        return unconditional + guidance * (conditional - unconditional)

    def integrate(self, x, start: float, category, algorithm, guidance: float, held=None) -> torch.Tensor:
        """From ``x`` at time ``start`` to t = 1.  ``held``: (columns, noise, target): those
        columns put back on their own straight path (1 - t) noise + t target after every step."""
        times = torch.linspace(start, 1.0, max(1, round(self.cfg.steps * (1 - start))) + 1).tolist()
        for t, after in zip(times[:-1], times[1:]):
            v = self.velocity(x, t, category, algorithm, guidance)
            step = after - t
            if self.cfg.sampler == "heun":
                ahead = x + step * v
                v = (v + self.velocity(ahead, after, category, algorithm, guidance)) / 2
            x = x + step * v
            if held is not None:
                columns, noise, target = held
                x[:, columns] = (1 - after) * noise + after * target
        return x

    def _decode(self, x: torch.Tensor, algorithm: torch.Tensor, temperature=None, generator=None) -> np.ndarray:
        x = self.codec.choose(x, self.knobs(temperature)[0], generator)
        voices = self.codec.decode(x.numpy())
        voices[:, _ALG] = algorithm.numpy()
        return voices

    def _start(self, n: int, generator: torch.Generator | None, truncation: float | None) -> torch.Tensor:
        return torch.randn(n, self.codec.width, generator=generator) * self.knobs(None, truncation)[1]

    @torch.no_grad()
    def sample(
        self,
        category: torch.Tensor,
        algorithm: torch.Tensor,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
        truncation: float | None = None,
        guidance: float | None = None,
    ) -> np.ndarray:
        """N x 145 valid parameters; ``algorithm``: stored values 0-31."""
        guidance = self.guidance if guidance is None else guidance
        x = self.integrate(self._start(len(category), generator, truncation), 0.0, category, algorithm, guidance)
        return self._decode(x, algorithm, temperature, generator)

    @torch.no_grad()
    def vary(
        self,
        voice: np.ndarray,
        category: int,
        strength: float,
        count: int,
        generator: torch.Generator | None = None,
        guidance: float | None = None,
    ) -> np.ndarray:
        """``count`` variations of ``voice`` (145 or more parameters), of its algorithm, as
        ``category``: the voice taken back to time 1 - ``strength`` on a straight line to fresh
        noise, then carried forward again.  Strength 0 returns the voice; 1 a fresh draw."""
        if not 0 <= strength <= 1:
            raise DeepDXError(f"strength must be between 0 and 1; got {strength}")
        start = 1.0 - strength
        target = torch.from_numpy(self.codec.encode(np.asarray(voice)[None, :N_SOUND_PARAMS])).expand(count, -1)
        algorithm = torch.full((count,), int(voice[_ALG]), dtype=torch.long)
        x = (1 - start) * self._start(count, generator, None) + start * target
        if strength == 0:
            return self._decode(x, algorithm, 0.0)
        guidance = self.guidance if guidance is None else guidance
        x = self.integrate(x, start, torch.full((count,), category, dtype=torch.long), algorithm, guidance)
        return self._decode(x, algorithm, None, generator)

    @torch.no_grad()
    def complete(
        self,
        voice: np.ndarray,
        keep: np.ndarray,
        category: torch.Tensor,
        algorithm: torch.Tensor,
        generator: torch.Generator | None = None,
        truncation: float | None = None,
        guidance: float | None = None,
    ) -> np.ndarray:
        """Voices of ``category`` and ``algorithm`` whose parameters ``keep`` (indices 0-144)
        are ``voice``'s: those columns follow their own path to the voice's values while the
        network carries the rest, so the rest is generated consistent with them."""
        guidance = self.guidance if guidance is None else guidance
        noise = self._start(len(category), generator, truncation)
        columns = torch.from_numpy(self.codec.columns(keep))
        target = torch.from_numpy(self.codec.encode(np.asarray(voice)[None, :N_SOUND_PARAMS]))[:, columns]
        held = (columns, noise[:, columns].clone(), target)
        x = self.integrate(noise, 0.0, category, algorithm, guidance, held)
        x[:, columns] = target  # they end there already; a drawn block (temperature) must not move them
        x = self.codec.choose(x, self.temperature, generator)
        x[:, columns] = target
        return self._decode(x, algorithm, 0.0)  # the held columns on the voice's encoding: its values exactly


def load_flow(state: dict) -> FlowGenerator:
    """A flow generator from a generator.pt's contents (see deepdx.models.nets.load_generator)."""
    sampling = {
        k: float(v) for k, v in state.get("sampling", {}).items() if k in ("temperature", "truncation", "guidance")
    }
    if not all(knob_ok(v) for v in sampling.values()):
        raise DeepDXError(f"sampling knobs out of range: {sampling}")
    model = FlowGenerator(FlowArchitecture.from_dict(state["net"]), **sampling)
    model.net.load_state_dict(state["generator"])
    return model.eval()
