"""GAN losses: (discriminator loss, generator loss) from the discriminator's raw scores.

``bce``   the standard non-saturating loss (Goodfellow et al. 2014), the seed's.
``hinge`` the hinge loss (Lim & Ye 2017; Miyato et al. 2018), often steadier.
``wgan``  Wasserstein critic loss; pair it with ``gradient_penalty`` (WGAN-GP).
"""

from __future__ import annotations

import torch
from torch.nn.functional import relu, softplus

from ..config import LOSSES


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind == "bce":
        return softplus(-real).mean() + softplus(fake).mean()
    if kind == "hinge":
        return relu(1 - real).mean() + relu(1 + fake).mean()
    if kind == "wgan":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "bce":
        return softplus(-fake).mean()
    if kind in ("hinge", "wgan"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")


def gradient_penalty(
    critic, real: torch.Tensor, fake: torch.Tensor, category: torch.Tensor, algorithm: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP: (||grad critic(x_hat)|| - 1)^2 on points between real and fake."""
    alpha = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    mixed = (alpha * real.detach() + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed, category, algorithm).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
