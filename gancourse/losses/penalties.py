"""Penalties and constraints that keep a discriminator (critic) well behaved.

All take the critic ``netD`` (and the condition, for conditional critics) and return
``(penalty, per-sample gradient norms (B,))``; multiply the penalty by its weight. Gradient
norms are per sample over the flattened input (not per pixel), with a graph
(``create_graph=True``) so that the penalty trains the critic.

* WGAN-GP (Gulrajani et al., 2017): E_x̂[(‖∇D(x̂)‖ - 1)²] on interpolates x̂ = εx + (1-ε)x̃ of
  independently drawn real and fake samples; ``one_sided=True`` gives E_x̂[max(0, ‖∇D(x̂)‖ - 1)²],
  which only penalises slopes above 1 (the form 1-Lipschitz actually asks for; the WGAN-GP paper
  keeps the two-sided one);
* R1 (Mescheder et al., 2018): E_x[‖∇D(x)‖²] on real data;
* DRAGAN (Kodali et al., 2017): (‖∇D‖ - 1)² at perturbed real points x + δ, with either the
  paper's symmetric noise (``perturbation="symmetric"``: δ ~ N(0, (c·std(x))² I), centred on x)
  or the authors' released code (``perturbation="reference"``, the default: δ = c·std(x)·U[0, 1]
  per coordinate, one-sided, so every coordinate is shifted *upwards*, by c·std(x)/2 on average);
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
                     target: float = 1.0, one_sided: bool = False) -> tuple[Tensor, Tensor]:
    """WGAN-GP (Gulrajani et al., 2017): E_x̂[(‖∇_x̂ D(x̂)‖₂ - 1)²] on random interpolates.

    The norm is taken per sample over the flattened gradient (not per pixel). With
    ``one_sided=True`` only norms above ``target`` are penalised, E_x̂[max(0, ‖∇D(x̂)‖ - 1)²]
    (Petzka et al., 2018, "WGAN-LP"; Gulrajani et al. §4 discuss it): a critic flatter than
    1-Lipschitz pays nothing. Returns ``(penalty, norms)``; multiply the penalty by λ (10 in
    the paper).
    """
    norms = _grad_norms(netD, interpolates(real, fake), *cond)
    excess = (norms - target).clamp_min(0) if one_sided else norms - target
    return excess.pow(2).mean(), norms.detach()


def r1_penalty(netD: nn.Module, real: Tensor, *cond) -> tuple[Tensor, Tensor]:
    """R1 (Mescheder et al., 2018): E_x[‖∇_x D(x)‖²] on real data; multiply by γ/2."""
    norms = _grad_norms(netD, real, *cond)
    return norms.pow(2).mean(), norms.detach()


DRAGAN_PERTURBATIONS = ("reference", "symmetric")


def dragan_perturbation(real: Tensor, c: float = 0.5, perturbation: str = "reference",
                        generator: torch.Generator | None = None) -> Tensor:
    """The noise δ that DRAGAN adds to a real batch (same shape as ``real``).

    * ``"symmetric"``: δ ~ N(0, σ² I) with σ = c·std(x), centred on every real point: the
      paper's δ ~ N_d(0, cI), with the scale written relative to the data;
    * ``"reference"``: δ = c·std(x)·U[0, 1] per coordinate, as in the authors' released code:
      one scalar std over the whole batch and **one-sided** noise, so each coordinate moves
      upwards by c·std(x)/2 on average: a shifted box next to each point, not a ball around it.
    """
    if perturbation not in DRAGAN_PERTURBATIONS:
        raise ValueError(f"unknown DRAGAN perturbation {perturbation!r}; valid: "
                         f"{', '.join(DRAGAN_PERTURBATIONS)}")
    if not c > 0:
        raise ValueError(f"the DRAGAN noise scale c must be positive, got {c}")
    scale = c * real.detach().std()
    if generator is None:                        # *_like keeps real's memory format
        draw = torch.randn_like(real) if perturbation == "symmetric" else torch.rand_like(real)
    else:
        sample = torch.randn if perturbation == "symmetric" else torch.rand
        draw = sample(real.shape, device=real.device, dtype=real.dtype, generator=generator)
    return scale * draw                                                   # same shape as real


def dragan_penalty(netD: nn.Module, real: Tensor, *cond, c: float = 0.5,
                   perturbation: str = "reference") -> tuple[Tensor, Tensor]:
    """DRAGAN (Kodali et al., 2017): (‖∇D(x + δ)‖ - 1)² at perturbed real points, i.e. only in a
    neighbourhood of the data. ``perturbation`` picks δ (:func:`dragan_perturbation`): the
    default ``"reference"`` is the authors' released code (one-sided uniform noise), and
    ``"symmetric"`` the paper's Gaussian noise centred on each point."""
    noise = dragan_perturbation(real, c, perturbation)
    norms = _grad_norms(netD, real.detach() + noise, *cond)
    return (norms - 1).pow(2).mean(), norms.detach()


PENALTIES = {"gp": "gradient_penalty", "r1": "r1_penalty", "dragan": "dragan_penalty"}


@torch.no_grad()
def clip_weights(netD: nn.Module, c: float) -> None:
    """WGAN weight clipping: every parameter of the critic into [-c, c], in place."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    for p in netD.parameters():
        p.clamp_(-c, c)
