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
group's validation voices; ``select`` keeps the epoch with the best ``coverage`` or the best
``balanced`` score (the weakest of precision, recall, density and coverage, each as a share
of what training voices reach on the same validation voices), or simply the ``last``; with
``patience`` > 0 training stops when that many epochs brought no better score.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import lightning.pytorch as pl
import numpy as np
import torch
from torch.nn.functional import cross_entropy
from torch.nn.utils import parametrize

from ..config import Config, ModelConfig, as_dict
from .diagnostics import CollapseProbe
from .losses import d_loss, g_loss, gradient_penalty
from .nets import Architecture, Discriminator, Generator, VoiceGenerator


class CGAN(pl.LightningModule):
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
        self.probe: CollapseProbe | None = None
        self.best: dict = {"score": -np.inf, "epoch": -1, "generator": None}
        self.history: list[dict] = []  # the probe's figures, epoch by epoch
        self.d_steps = 0  # discriminator steps so far, across epochs (lazy R1 counts them)
        self.g_steps = 0  # generator steps so far (the moving average and the warm-up count them)
        self.losses: dict[str, list[torch.Tensor]] = {"d_loss": [], "g_loss": []}  # this epoch's, step by step

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

    def _dequantize(self, real: torch.Tensor) -> torch.Tensor:
        """Spread each real level uniformly over its rounding bin (reflected at the edges); over
        99 % of it, so that float rounding never carries a value into the next bin."""
        x = real + (torch.rand_like(real) * 2 - 1) * (0.99 * self.codec.spread(real, self.widths))
        x = torch.where(x < -1, -2 - x, x)
        return torch.where(x > 1, 2 - x, x)

    # ------------------------------------------------------------------ training
    def training_step(self, batch, batch_idx):
        real, category, algorithm = batch
        if self.model_cfg.dequantize:
            real = self._dequantize(real)
        opt_g, opt_d = self.optimizers()
        kind, latent = self.model_cfg.loss, self.net_cfg.latent

        with torch.no_grad():  # the discriminator's step: no graph through G
            fake = self(torch.randn(len(real), latent, device=self.device), category, algorithm)
        if self.hparams.lr_decay:
            self._decay_rates(opt_g, opt_d)
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
                self._update_average()

    def _decay_rates(self, opt_g, opt_d) -> None:
        """Both rates at their configured values until the last ``lr_decay`` share of the run's
        steps, then falling linearly to 0 at its end (a function of the step count, which a
        checkpoint keeps, so a resumed run decays as an uninterrupted one)."""
        total = self.trainer.max_epochs * self.trainer.num_training_batches
        left = 1 - self.d_steps / total
        factor = min(1.0, max(0.0, left / self.hparams.lr_decay))
        for opt, base in ((opt_g, self.hparams.lr_g), (opt_d, self.hparams.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * factor

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

    @torch.no_grad()
    def _update_average(self) -> None:
        """The average follows quickly at first, so early weights do not linger in it."""
        decay = min(self.model_cfg.ema, (1 + self.g_steps) / (10 + self.g_steps))
        for kept, new in zip(self.G_ema.state_dict().values(), self.G.state_dict().values()):
            if kept.is_floating_point():
                kept.lerp_(new, 1 - decay)
            else:  # batch norm's counters
                kept.copy_(new)

    def on_train_epoch_end(self) -> None:
        for name, values in self.losses.items():  # once an epoch: self.log on every step cost about 0.8 ms (2 %)
            if values:
                self.log(name, torch.stack(values).mean(), prog_bar=True)
            values.clear()
        if self.probe is None:
            return
        generator = self.voice_generator()  # batch norm, if any, in eval mode: no batch statistics
        samples = generator.sample(
            torch.from_numpy(self.probe.category),
            torch.from_numpy(self.probe.algorithm),
            torch.Generator().manual_seed(self.hparams.seed),
        )
        metrics = self.probe(samples, self.probe.category)
        self.history.append({"epoch": self.current_epoch, **metrics})
        for key, value in metrics.items():
            self.log(f"probe/{key}", value, prog_bar=key in ("coverage", "balanced"))
        select = self.hparams.select
        if select != "last" and metrics[select] > self.best["score"]:
            self.best = {
                "score": metrics[select],
                "epoch": self.current_epoch,
                "metrics": metrics,
                "generator": {k: v.detach().cpu().clone() for k, v in self.kept.state_dict().items()},
            }
        if select != "last":
            self.log("probe/best_epoch", float(self.best["epoch"]))
            patience = self.hparams.patience
            if patience and self.current_epoch - self.best["epoch"] >= patience:
                self.trainer.should_stop = True

    def configure_optimizers(self):
        h = self.hparams
        # fused: one kernel over all of a net's tensors, a quarter of the time of Adam's loop on
        # CPU (about 3 % of a training step); as deterministic as the loop (tests/test_models.py)
        return (
            torch.optim.Adam(self.G.parameters(), lr=h.lr_g, betas=tuple(h.betas), fused=True),
            torch.optim.Adam(self.D.parameters(), lr=h.lr_d, betas=tuple(h.betas), fused=True),
        )

    # An interrupted run resumes exactly: the noise stream continues where it stopped (the
    # data order is a function of seed and epoch, see GroupDataModule), and the best epoch
    # so far is remembered.  On a GPU the CUDA generators' states are kept too, so the noise
    # continues there as well; a GPU run promises figures within the seed spread of a CPU run,
    # not its bits (docs: reproducibility).
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint["cuda_rng_states"] = torch.cuda.get_rng_state_all()
        checkpoint["best"] = self.best
        checkpoint["d_steps"], checkpoint["g_steps"] = self.d_steps, self.g_steps
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])
        if "cuda_rng_states" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_states"])
        self.best = checkpoint.get("best", self.best)
        self.d_steps = checkpoint.get("d_steps", self.d_steps)
        self.g_steps = checkpoint.get("g_steps", self.g_steps)
        self.history = checkpoint.get("history", self.history)

    def export(self) -> dict:
        """What generation needs, as plain tensors and values (loadable with weights_only=True):
        the selected epoch's generator (or the last one's)."""
        chosen = self.best["generator"] if self.best["generator"] is not None else self.kept.state_dict()
        return {
            "generator": {k: v.cpu() for k, v in chosen.items()},
            "net": self.net_cfg.to_dict(),
            "epoch": int(self.best["epoch"] if self.best["generator"] is not None else self.current_epoch),
        }


def without_lightning(module: CGAN) -> CGAN:
    """The module's own training step, callable from a plain loop (benchmarks, tests): its
    optimisers and backward passes handed over directly, no Trainer."""
    opts = module.configure_optimizers()
    module.optimizers = lambda: opts
    module.manual_backward = lambda loss: loss.backward()
    return module
