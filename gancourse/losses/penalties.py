"""Penalties and constraints that keep a discriminator (critic) well behaved.

All take the critic ``netD`` (and the condition, for conditional critics) and return
``(penalty, per-sample gradient norms (B,))``; multiply the penalty by its weight. Gradient
norms are per sample over the flattened input (not per pixel), with a graph
(``create_graph=True``) so that the penalty trains the critic.

* WGAN-GP (Gulrajani et al., 2017): E_x̂[(‖∇D(x̂)‖ - 1)²] on interpolates x̂ = εx + (1-ε)x̃;
* R1 (Mescheder et al., 2018): E_x[‖∇D(x)‖²] on real data;
* DRAGAN (Kodali et al., 2017): (‖∇D‖ - 1)² at perturbed real points;
* weight clipping (WGAN): every parameter into [-c, c].
"""

from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def _grad_norms(netD: nn.Module, x: Tensor, *cond) -> Tensor:
    """Per-sample ‖∇_x D(x)‖₂ over all input dimensions, with a graph for backprop."""
    x = x.detach().requires_grad_(True)
    scores = netD(x, *cond)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)                                # (B,)


def interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x̂ = ε x + (1 - ε) x̃ with one ε ~ U[0, 1] per sample."""
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(netD: nn.Module, real: Tensor, fake: Tensor, *cond,
                     target: float = 1.0) -> tuple[Tensor, Tensor]:
    """WGAN-GP (Gulrajani et al., 2017): E_x̂[(‖∇_x̂ D(x̂)‖₂ - 1)²] on random interpolates.

    The norm is taken per sample over the flattened gradient (not per pixel). Returns
    ``(penalty, norms)``; multiply the penalty by λ (10 in the paper).
    """
    norms = _grad_norms(netD, interpolates(real, fake), *cond)
    return (norms - target).pow(2).mean(), norms.detach()


def r1_penalty(netD: nn.Module, real: Tensor, *cond) -> tuple[Tensor, Tensor]:
    """R1 (Mescheder et al., 2018): E_x[‖∇_x D(x)‖²] on real data; multiply by γ/2."""
    norms = _grad_norms(netD, real, *cond)
    return norms.pow(2).mean(), norms.detach()


def dragan_penalty(netD: nn.Module, real: Tensor, *cond, c: float = 0.5) -> tuple[Tensor, Tensor]:
    """DRAGAN (Kodali et al., 2017): (‖∇D‖ - 1)² at real points perturbed by
    δ = c · std(x) · U[0, 1] noise, i.e. only in a neighbourhood of the data."""
    noise = c * real.std() * torch.rand_like(real)
    norms = _grad_norms(netD, real + noise, *cond)
    return (norms - 1).pow(2).mean(), norms.detach()


PENALTIES = {"gp": "gradient_penalty", "r1": "r1_penalty", "dragan": "dragan_penalty"}


@torch.no_grad()
def clip_weights(netD: nn.Module, c: float) -> None:
    """WGAN weight clipping: every parameter of the critic into [-c, c], in place."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    for p in netD.parameters():
        p.clamp_(-c, c)
