r"""The gradient-reversal layer (Ganin & Lempitsky, 2015) and DANN's schedules.

:math:`R_\lambda` is the identity on the way forward and multiplies the gradient by
:math:`-\lambda` on the way back,

.. math::

    R_\lambda(x) = x, \qquad \frac{\partial R_\lambda}{\partial x} = -\lambda I .

Put between a feature extractor :math:`F` and a domain classifier :math:`D`, one backward pass of
the domain loss :math:`L_d(D(R_\lambda(F(x))))` gives :math:`D` the gradient that *lowers*
:math:`L_d` and :math:`F` the gradient :math:`-\lambda\,\partial L_d/\partial\theta_F` that
*raises* it: the minimax game :math:`\min_F \max_D -\lambda L_d` without a second loss.

DANN's schedules, with :math:`p \in [0, 1]` the share of training done:

.. math::

    \lambda_p = \frac{2}{1 + \exp(-\gamma p)} - 1 \quad(\gamma = 10), \qquad
    \mu_p = \frac{\mu_0}{(1 + \alpha p)^\beta} \quad(\alpha = 10,\ \beta = 0.75):

the adversarial weight ramps from 0 to 1 (the domain classifier's early, noisy verdicts do not
shake the features) and the learning rate anneals.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Tensor = torch.Tensor


class GradientReversal(torch.autograd.Function):
    """Identity forward; gradient times ``-lam`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, lam: float) -> Tensor:
        ctx.lam = float(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.lam * grad, None


def grad_reverse(x: Tensor, lam: float = 1.0) -> Tensor:
    """:math:`R_\\lambda(x)`: ``x`` unchanged, its gradient multiplied by ``-lam`` (``lam`` >= 0)."""
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam}")
    return GradientReversal.apply(x, lam)


class GradReverse(nn.Module):
    """:func:`grad_reverse` as a layer; set ``.lam`` to change λ during training."""

    def __init__(self, lam: float = 1.0):
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}"


def _check_progress(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"training progress p must lie in [0, 1], got {p}")
    return float(p)


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    """λ_p = 2 / (1 + exp(-γ p)) - 1: 0 at the start, about 1 from p ≈ 0.5 on."""
    return 2.0 / (1.0 + math.exp(-gamma * _check_progress(p))) - 1.0


def dann_lr_factor(p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """μ_p / μ_0 = 1 / (1 + α p)^β (1 at the start, 10^-0.75 ≈ 0.17 at the end)."""
    return 1.0 / (1.0 + alpha * _check_progress(p)) ** beta
