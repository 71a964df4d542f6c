"""Training of the flow family (deepdx.models.flow) as a LightningModule, one per algorithm
group, beside the CGAN's (deepdx.models.cgan): the same data, probe, selection and export."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..config import Config, ModelConfig, as_dict
from .codec import dequantize
from .flow import FlowArchitecture, FlowGenerator, VelocityNet
from .probed import Probed


def pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The permutation of ``x0``'s rows that pairs them with ``x1``'s at least total squared
    distance (minibatch optimal transport, Tong et al. 2024; Pooladian et al. 2023)."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(x1.detach().float(), x0.float()).pow(2).cpu().numpy()
    return torch.from_numpy(linear_sum_assignment(cost)[1]).to(x0.device)


class FlowMatching(Probed):
    """The flow as a LightningModule (one per algorithm group), trained and selected as the
    CGAN is: ``lr`` and ``betas`` for its one Adam, ``lr_decay`` as the CGAN's, the moving
    average of ``model.ema``, the probe and ``select`` of :mod:`.probed`."""

    COUNTERS = ("steps",)

    def __init__(
        self,
        model: dict,
        lr: float,
        betas: list[float],
        n_classes: int,
        seed: int,
        select: str = "last",
        patience: int = 0,
        lr_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.model_cfg = ModelConfig(**model)
        self.automatic_optimization = False
        self.net_cfg = FlowArchitecture.of(self.model_cfg, n_classes)
        self.codec = self.net_cfg.codec()
        self.net = VelocityNet(self.net_cfg)
        self.net_ema = copy.deepcopy(self.net).requires_grad_(False) if self.model_cfg.ema > 0 else None
        self.register_buffer("widths", self.codec.widths.clone())
        self._start_probed(("loss",))

    @classmethod
    def from_config(cls, cfg: Config, n_classes: int, seed: int, spikes: tuple = ()) -> "FlowMatching":
        """``spikes`` is accepted and unused: the flow's levels need no gates (see FlowCodec)."""
        t = cfg.train
        return cls(as_dict(cfg.model), t.lr_g, list(t.betas), n_classes, seed, t.select, t.patience, t.lr_decay)

    @property
    def kept(self) -> nn.Module:
        return self.net_ema if self.net_ema is not None else self.net

    def voice_generator(self, state: dict | None = None) -> FlowGenerator:
        out = FlowGenerator(self.net_cfg)
        out.net.load_state_dict(state if state is not None else self.kept.state_dict())
        return out.eval()

    def loss(self, x1: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor) -> torch.Tensor:
        """The flow-matching loss of a batch in the flow's space."""
        x0 = torch.randn_like(x1)
        if self.model_cfg.flow_coupling == "ot":  # each voice the noise that the batch's least-cost pairing gives it
            x0 = x0[pairing(x0, x1)]
        t = torch.rand(len(x1), device=x1.device) ** self.model_cfg.flow_time_power
        xt = (1 - t[:, None]) * x0 + t[:, None] * x1
        drop = torch.rand(len(x1), device=x1.device) < self.model_cfg.flow_drop_category
        category = torch.where(drop, torch.full_like(category, self.net_cfg.n_classes), category)
        return (self.net(xt, t, category, algorithm) - (x1 - x0)).pow(2).mean()

    def training_step(self, batch, batch_idx):
        real, category, algorithm = batch
        if self.model_cfg.dequantize:
            real = dequantize(real, self.widths)
        opt = self.optimizers()
        if self.hparams.lr_decay:
            self.decay_rates(self.steps, [(opt, self.hparams.lr)])
        self.steps += 1
        loss = self.loss(real, category, algorithm)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        self.losses["loss"].append(loss.detach())
        if self.net_ema is not None:
            self.update_average(self.net_ema, self.net, self.model_cfg.ema, self.steps)

    def configure_optimizers(self):
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.lr, betas=tuple(self.hparams.betas), fused=True)

    def export(self) -> dict:
        return {**super().export(), "family": "flow"}
