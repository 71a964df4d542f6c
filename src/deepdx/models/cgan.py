"""The category-conditioned GAN as a LightningModule (one per algorithm group).

Each step: one discriminator step on a batch of real voices (levels spread over their
rounding bins, ``dequantize``) against generated ones, then a generator step (with
``aux_class`` > 0 the discriminator also learns the real voices' categories and the
generator is asked for voices it classifies as requested, AC-GAN); the
generator is told each voice's category and, with ``algorithm_embed`` > 0, its algorithm
(written into the generated voice, so the discriminator judges levels against the
algorithm that makes some operators carriers).  With ``ema`` > 0 a moving average of the
generator's weights is kept beside it: that average is what is probed and exported.

After every epoch the probe (:mod:`.diagnostics`) measures the kept generator against the
group's validation voices and ``select`` keeps an epoch's generator, as for every family
(:mod:`.probed`).
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import torch
from torch.nn.functional import cross_entropy
from torch.nn.utils import parametrize

from ..config import Config, ModelConfig, as_dict
from .codec import dequantize
from .losses import d_loss, g_loss, gradient_penalty
from .nets import Architecture, Discriminator, Generator, VoiceGenerator
from .probed import Probed


class CGAN(Probed):
    """``model``: the model config as a plain dict; the optimiser and selection settings come
    from the train config (all kept in the checkpoint; MLflow gets the whole config from
    models.train)."""

    def __init__(
        self,
        model: dict,
        lr_g: float,
        lr_d: float,
        betas: list[float],
        n_critic: int,
        layout: str,
        n_classes: int,
        seed: int,
        select: str = "last",
        patience: int = 0,
        spikes: list | None = None,
        lr_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.model_cfg = ModelConfig(**model)
        self.automatic_optimization = False
        self.net_cfg = Architecture.of(self.model_cfg, n_classes, layout, spikes or ())
        self.codec = self.net_cfg.codec()
        self.G, self.D = Generator(self.net_cfg), Discriminator(self.net_cfg)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if self.model_cfg.ema > 0 else None
        self.register_buffer("widths", self.codec.widths.clone())
        # d_steps: discriminator steps so far, across epochs (lazy R1 counts them); g_steps: generator
        # steps so far (the moving average and the warm-up count them)
        self._start_probed(("d_loss", "g_loss"))

    COUNTERS = ("d_steps", "g_steps")

    @classmethod
    def from_config(cls, cfg: Config, n_classes: int, seed: int, spikes: tuple = ()) -> "CGAN":
        """``spikes``: the group's (codec.spikes_of), when ``model.spike_share`` asks for them."""
        t = cfg.train
        return cls(
            as_dict(cfg.model),
            t.lr_g,
            t.lr_d,
            list(t.betas),
            t.n_critic,
            cfg.encoding.layout,
            n_classes,
            seed,
            t.select,
            t.patience,
            [list(s) for s in spikes],
            t.lr_decay,
        )

    @property
    def kept(self) -> torch.nn.Module:
        """The generator that is probed and exported: the moving average, if any."""
        return self.G_ema if self.G_ema is not None else self.G

    # ------------------------------------------------------------------ sampling
    def forward(self, z: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        """Generated voices in the discriminator's representation (training: choices as
        straight-through Gumbel-softmax one-hots)."""
        x = self.codec.finish(self.G(z, category, algorithm), self.model_cfg.tau)
        return self.codec.set_algorithm(x, algorithm) if self.net_cfg.algorithm_embed else x

    def voice_generator(self, state: dict | None = None) -> VoiceGenerator:
        out = VoiceGenerator(self.net_cfg)
        out.G.load_state_dict(state if state is not None else self.kept.state_dict())
        return out.eval()

    # ------------------------------------------------------------------ training
    def training_step(self, batch, batch_idx):
        real, category, algorithm = batch
        if self.model_cfg.dequantize:
            real = dequantize(real, self.codec.spread(real, self.widths))
        opt_g, opt_d = self.optimizers()
        kind, latent = self.model_cfg.loss, self.net_cfg.latent

        with torch.no_grad():  # the discriminator's step: no graph through G
            fake = self(torch.randn(len(real), latent, device=self.device), category, algorithm)
        if self.hparams.lr_decay:
            self.decay_rates(self.d_steps, [(opt_g, self.hparams.lr_g), (opt_d, self.hparams.lr_d)])
        every = self.model_cfg.r1_every  # lazy R1 (Karras et al. 2020): every this many batches, weighted by it
        r1 = self.model_cfg.r1 * every if self.d_steps % every == 0 else 0.0
        self.d_steps += 1
        if r1:
            real = real.requires_grad_(True)
        aux = self.model_cfg.aux_class
        once = self.model_cfg.spectral_once
        with parametrize.cached() if once else nullcontext():  # D's normalised weights computed once this step
            real_score, real_class = self._judge(real, category, algorithm)
            loss_d = d_loss(kind, real_score, self.D(fake, category, algorithm)) + aux * real_class
            if kind == "wgan":
                loss_d = loss_d + self.model_cfg.gp_weight * gradient_penalty(self.D, real, fake, category, algorithm)
            if r1:
                (grad,) = torch.autograd.grad(real_score.sum(), real, create_graph=True)
                loss_d = loss_d + r1 / 2 * grad.pow(2).flatten(1).sum(1).mean()
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.losses["d_loss"].append(loss_d.detach())

        if (batch_idx + 1) % self.hparams.n_critic == 0:
            self.g_steps += 1
            if self.model_cfg.mode_seeking > 0:  # the batch's first half asked for twice, with other noise
                half = len(real) // 2
                category, algorithm = category[:half].repeat(2), algorithm[:half].repeat(2)
            z = torch.randn(len(category), latent, device=self.device)
            fake = self(z, category, algorithm)
            self.D.requires_grad_(
                False
            )  # the generator's step: no gradient for D's weights (the next D step drops them)
            self.D.train(not once)  # spectral_once: no power iteration here (D has no other train-mode behaviour)
            fake_score, fake_class = self._judge(fake, category, algorithm)
            self.D.requires_grad_(True).train()
            loss_g = g_loss(kind, fake_score) + aux * fake_class
            if self.model_cfg.mode_seeking > 0:  # two noises, same request: their voices should differ as much
                spread = (fake[:half] - fake[half:]).abs().flatten(1).mean(1) / (z[:half] - z[half:]).abs().mean(1)
                loss_g = loss_g + self._mode_seeking_weight() / (spread.mean() + 1e-5)
            opt_g.zero_grad()
            self.manual_backward(loss_g)
            opt_g.step()
            self.losses["g_loss"].append(loss_g.detach())
            if self.G_ema is not None:
                self.update_average(self.G_ema, self.G, self.model_cfg.ema, self.g_steps)

    def _judge(self, x: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor):
        """The discriminator's scores, and its auxiliary classifier's cross-entropy against
        ``category`` (0 without one): on real voices D learns it, on generated ones G."""
        if self.D.classify is None:
            return self.D(x, category, algorithm), 0.0
        score, logits = self.D(x, category, algorithm, classify=True)
        return score, cross_entropy(logits, category)

    def _mode_seeking_weight(self) -> float:
        warmup = self.model_cfg.mode_seeking_warmup
        return self.model_cfg.mode_seeking * (min(1.0, self.g_steps / warmup) if warmup else 1.0)

    def configure_optimizers(self):
        h = self.hparams
        # fused: one kernel over all of a net's tensors, a quarter of the time of Adam's loop on
        # CPU (about 3 % of a training step); as deterministic as the loop (tests/test_models.py)
        return (
            torch.optim.Adam(self.G.parameters(), lr=h.lr_g, betas=tuple(h.betas), fused=True),
            torch.optim.Adam(self.D.parameters(), lr=h.lr_d, betas=tuple(h.betas), fused=True),
        )
