"""Least-squares GAN (Mao et al., 2017): targets, saturation and the Pearson χ² link.

The discriminator has a linear output ``s = D(x)`` (no sigmoid). With a target ``a`` for
fakes, ``b`` for real data and ``c``, the value the generator wants ``D`` to give its fakes,

    L_D = ½ E_{x~p_d}[(D(x) - b)²] + ½ E_{z}[(D(G(z)) - a)²]
    L_G = ½ E_{z}[(D(G(z)) - c)²].

These losses are :func:`gancourse.losses.d_loss_ls` and :func:`gancourse.losses.g_loss_ls`;
``a = 0, b = c = 1`` is the ``"lsgan"`` pair of :data:`gancourse.losses.LOSSES`. This module holds
the analysis around them. For a fixed generator
the optimal discriminator is (minimise the integrand pointwise)

    D*(x) = (b p_d(x) + a p_g(x)) / (p_d(x) + p_g(x)),

and with ``b - c = 1`` and ``b - a = 2`` (e.g. ``a = -1, b = 1, c = 0``) the generator's
objective at ``D*`` — with the G-independent term ½E_{p_d}[(D(x) - c)²] added — is

    C(G) = ½ E_{p_d}[(D*(x) - c)²] + ½ E_{p_g}[(D*(x) - c)²]
         = ½ ∫ (p_d - p_g)² / (p_d + p_g) dx  =  χ²_Pearson(P_g ‖ M),   M = (P_d + P_g)/2,

the Pearson χ² divergence of the generator from the mixture, with the course's convention
χ²(P ‖ Q) = ∫ (p - q)² / q (second argument in the denominator, as in
:func:`gancourse.divergences.pearson_chi2`). Mao et al.'s Theorem 1 states the same result as
2C(G) = χ²_Pearson(p_d + p_g ‖ 2 p_g) between the unnormalised sums, but their χ² puts its *first*
argument in the denominator, ∫ (q - p)² / p; in the course's convention that reads
2C(G) = χ²(2 p_g ‖ p_d + p_g). Minimising L_G therefore minimises a divergence, as the original
GAN minimises JS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

Tensor = torch.Tensor


def chi2_objective(real_scores: Tensor, fake_scores: Tensor, c: float = 0.0) -> Tensor:
    """½E_{p_d}[(D(x) - c)²] + ½E_{p_g}[(D(x) - c)²]: C(G) evaluated with a trained D.

    At D = D* with ``a = -1, b = 1, c = 0`` this is χ²_Pearson(P_g ‖ (P_d + P_g)/2).
    """
    return 0.5 * ((real_scores - c).pow(2).mean() + (fake_scores - c).pow(2).mean())


def optimal_discriminator(p_data: Any, p_g: Any, a: float = 0.0, b: float = 1.0) -> np.ndarray:
    """D*(x) = (b p_d + a p_g) / (p_d + p_g) on density values (NaN where both are 0)."""
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"p_data and p_g must have the same shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("densities must be non-negative")
    total = p + q
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (b * p + a * q) / total, np.nan)


def generator_input_gradients(netD: nn.Module, x: Tensor,
                              g_loss: Callable[[Tensor], Tensor]) -> Tensor:
    """Per-sample ‖∂ℓ_G(x_i)/∂x_i‖ for fakes placed at ``x`` (N, ...): (N,).

    ``g_loss`` maps scores (N,) to the batch mean of the per-sample generator losses ℓ_G, so
    the gradient of its value times N is the per-sample gradient. This is the signal that
    reaches the generator through a fake at x (times ∂x/∂θ).
    """
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    x = x.detach().clone().requires_grad_(True)
    loss = g_loss(netD(x)) * len(x)
    (grad,) = torch.autograd.grad(loss, x)
    return grad.flatten(1).norm(dim=1)                                          # (N,)


def fit_discriminator(netD: nn.Module, real: Tensor, fake: Tensor,
                      d_loss: Callable[[Tensor, Tensor], Tensor], steps: int = 2000,
                      lr: float = 1e-2, batch_size: int | None = None, seed: int = 0) -> list[float]:
    """Train ``netD`` to minimise ``d_loss(D(real), D(fake))`` on fixed samples with Adam.

    ``batch_size=None`` uses all samples at every step (full-batch, deterministic); otherwise
    each step draws ``batch_size`` of each with a generator seeded by ``seed``. Returns the loss
    per step. The generator is not involved: this is D's inner maximisation of the game.
    """
    if steps < 1 or lr <= 0:
        raise ValueError(f"steps must be >= 1 and lr > 0, got steps={steps}, lr={lr}")
    if len(real) == 0 or len(fake) == 0:
        raise ValueError("real and fake must both be non-empty")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(netD.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        if batch_size is None:
            r, f = real, fake
        else:
            r = real[torch.randint(len(real), (batch_size,), generator=gen)]
            f = fake[torch.randint(len(fake), (batch_size,), generator=gen)]
        loss = d_loss(netD(r), netD(f))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
