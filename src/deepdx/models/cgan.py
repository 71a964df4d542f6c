"""The category-conditioned GAN as a LightningModule (one per algorithm group)."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch

from ..config import Config, ModelConfig, as_dict
from ..corpus.encoding import GRID, LAYOUTS, decode, used_cells
from ..dx7.params import MAX, N_SOUND_PARAMS
from .diagnostics import CollapseProbe
from .losses import d_loss, g_loss, gradient_penalty
from .nets import Architecture, Discriminator, Generator


def _dequantization_widths(layout: str) -> torch.Tensor:
    """Half the spacing between neighbouring values of each cell's parameter (0 where unused)."""
    widths = np.zeros(GRID * GRID, dtype=np.float32)
    widths[LAYOUTS[layout]] = 1.0 / MAX[:N_SOUND_PARAMS]
    return torch.from_numpy(widths.reshape(GRID, GRID))


class CGAN(pl.LightningModule):
    """``model``: the model config as a plain dict; the optimiser settings come from the train
    config (all kept in the checkpoint; MLflow gets the whole config from models.train)."""

    def __init__(self, model: dict, lr_g: float, lr_d: float, betas: list[float], n_critic: int, layout: str,
                 n_classes: int, seed: int, probe_samples: int = 512):
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.model_cfg = ModelConfig(**model)
        self.automatic_optimization = False
        self.net_cfg = Architecture.of(self.model_cfg, n_classes)
        self.G, self.D = Generator(self.net_cfg), Discriminator(self.net_cfg)
        self.register_buffer("mask", torch.from_numpy(used_cells(layout)).float())
        self.register_buffer("dq", _dequantization_widths(layout))
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("probe_z", torch.randn(probe_samples, self.net_cfg.latent, generator=g))
        self.register_buffer("probe_c", torch.arange(probe_samples) % self.net_cfg.n_classes)
        self.probe: CollapseProbe | None = None

    @classmethod
    def from_config(cls, cfg: Config, n_classes: int, seed: int) -> "CGAN":
        t = cfg.train
        return cls(as_dict(cfg.model), t.lr_g, t.lr_d, list(t.betas), t.n_critic, cfg.encoding.layout, n_classes, seed)

    # ------------------------------------------------------------------ sampling
    def forward(self, z: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """Grids in [-1, 1]; cells no parameter uses are exactly 0, as in real grids."""
        return self.G(z, category) * self.mask

    @torch.no_grad()
    def sample(self, category: torch.Tensor, generator: torch.Generator | None = None) -> np.ndarray:
        """Valid parameters (N x 145) for the requested categories."""
        z = torch.randn(len(category), self.net_cfg.latent, generator=generator).to(self.device)
        return decode(self(z, category.to(self.device)).cpu().numpy(), self.hparams.layout)

    def _dequantize(self, real: torch.Tensor) -> torch.Tensor:
        """Spread each real value uniformly over its rounding bin (reflected at the edges)."""
        x = real + (torch.rand_like(real) * 2 - 1) * self.dq
        x = torch.where(x < -1, -2 - x, x)
        return torch.where(x > 1, 2 - x, x)

    # ------------------------------------------------------------------ training
    def training_step(self, batch, batch_idx):
        real, category = batch
        if self.model_cfg.dequantize:
            real = self._dequantize(real)
        opt_g, opt_d = self.optimizers()
        kind = self.model_cfg.loss

        z = torch.randn(len(real), self.net_cfg.latent, device=self.device)
        fake = self(z, category).detach()
        loss_d = d_loss(kind, self.D(real, category), self.D(fake, category))
        if kind == "wgan":
            loss_d = loss_d + self.model_cfg.gp_weight * gradient_penalty(self.D, real, fake, category)
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.log("d_loss", loss_d, on_step=False, on_epoch=True, prog_bar=True)

        if (batch_idx + 1) % self.hparams.n_critic == 0:
            z = torch.randn(len(real), self.net_cfg.latent, device=self.device)
            loss_g = g_loss(kind, self.D(self(z, category), category))
            opt_g.zero_grad()
            self.manual_backward(loss_g)
            opt_g.step()
            self.log("g_loss", loss_g, on_step=False, on_epoch=True, prog_bar=True)

    def on_train_epoch_end(self) -> None:
        if self.probe is None:
            return
        self.G.eval()  # batch norm, if any, must neither use nor update batch statistics here
        with torch.no_grad():
            grids = self(self.probe_z, self.probe_c).cpu().numpy()
        self.G.train()
        samples = decode(grids, self.hparams.layout)
        for key, value in self.probe(samples, self.probe_c.cpu().numpy()).items():
            self.log(f"probe/{key}", value, prog_bar=key == "coverage")

    def configure_optimizers(self):
        h = self.hparams
        return (torch.optim.Adam(self.G.parameters(), lr=h.lr_g, betas=tuple(h.betas)),
                torch.optim.Adam(self.D.parameters(), lr=h.lr_d, betas=tuple(h.betas)))

    # An interrupted run resumes exactly: the noise stream continues where it stopped
    # (the data order is a function of seed and epoch, see GroupDataModule).
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])

    def export(self) -> dict:
        """What generation needs, as plain tensors and values (loadable with weights_only=True)."""
        return {"generator": self.G.state_dict(), "mask": self.mask.cpu(), "net": self.net_cfg.to_dict(),
                "layout": self.hparams.layout}
