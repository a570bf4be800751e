"""Adversarial losses and penalties.

Every discriminator (critic) in the package returns a raw score ``s = D(x)`` — a logit
for the sigmoid-based losses, a real number for the others. Each loss is a pair of
functions ``d_loss(real_scores, fake_scores)`` and ``g_loss(fake_scores)``, both to be
*minimised*. With σ the sigmoid and ``softplus(t) = log(1 + e^t)``:

==============  ===========================================  ===============================
name            discriminator / critic loss                  generator loss
==============  ===========================================  ===============================
``minimax``     -E log σ(s_r) - E log(1 - σ(s_f))             E log(1 - σ(s_f))  (saturating)
``ns``          same as minimax                              -E log σ(s_f)  (non-saturating)
``lsgan``       ½E (s_r - 1)² + ½E s_f²                       ½E (s_f - 1)²
``hinge``       E max(0, 1 - s_r) + E max(0, 1 + s_f)         -E s_f
``wgan``        E s_f - E s_r                                 -E s_f
==============  ===========================================  ===============================

Using ``-log σ(s) = softplus(-s)`` and ``-log(1 - σ(s)) = softplus(s)`` keeps the BCE
losses finite for any logit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- losses
def d_loss_bce(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], D = σ(s): the negated value function V."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def g_loss_minimax(fake_scores: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))]: the original (saturating) generator loss.

    Its gradient w.r.t. the logit is -σ(s_f), which vanishes when D confidently rejects
    the fakes (σ(s_f) ≈ 0) — exactly the situation at the start of training.
    """
    return -F.softplus(fake_scores).mean()


def g_loss_nonsaturating(fake_scores: Tensor) -> Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss; gradient -(1 - σ(s_f)) ≈ -1
    when D rejects the fakes."""
    return F.softplus(-fake_scores).mean()


def d_loss_lsgan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Least squares with targets b = 1 (real) and a = 0 (fake) (Mao et al., 2017)."""
    return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())


def g_loss_lsgan(fake_scores: Tensor) -> Tensor:
    """½E[(D(G(z)) - c)²] with c = 1: pulls fakes towards the real target."""
    return 0.5 * (fake_scores - 1).pow(2).mean()


def d_loss_hinge(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (SNGAN, SAGAN, BigGAN)."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def d_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: minus the Kantorovich–Rubinstein estimate of W1.

    Only meaningful when D is (close to) 1-Lipschitz: clip its weights or penalise
    its gradient.
    """
    return fake_scores.mean() - real_scores.mean()


def g_loss_mean_score(fake_scores: Tensor) -> Tensor:
    """-E[D(G(z))]: the generator loss of WGAN and of the hinge GAN."""
    return -fake_scores.mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of losses. ``sigmoid`` says whether scores are logits of a probability
    (then ``D(x)`` in the training history is σ(s), else the raw score)."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    sigmoid: bool


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss("minimax", d_loss_bce, g_loss_minimax, True),
    "ns": AdversarialLoss("ns", d_loss_bce, g_loss_nonsaturating, True),
    "lsgan": AdversarialLoss("lsgan", d_loss_lsgan, g_loss_lsgan, False),
    "hinge": AdversarialLoss("hinge", d_loss_hinge, g_loss_mean_score, False),
    "wgan": AdversarialLoss("wgan", d_loss_wasserstein, g_loss_mean_score, False),
}


def get_loss(name: str | AdversarialLoss) -> AdversarialLoss:
    """Look a loss up by name (``minimax``, ``ns``, ``lsgan``, ``hinge``, ``wgan``)."""
    if isinstance(name, AdversarialLoss):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid losses are {', '.join(LOSSES)}")
    return LOSSES[name]


# ----------------------------------------------------------------------------- penalties
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
