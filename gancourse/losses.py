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

Other variants (notebook 11's map), as functions only: their generator loss needs the real
scores too (relativistic, Softmax GAN) or a per-pair margin (loss-sensitive GAN), so they do
not fit the ``g_loss(fake_scores)`` pairs of ``LOSSES``: ``d_loss_rsgan``/``g_loss_rsgan``,
``d_loss_ragan``/``g_loss_ragan``, ``d_loss_softmax``/``g_loss_softmax``,
``d_loss_loss_sensitive``/``g_loss_loss_sensitive``. EBGAN and BEGAN live in
:mod:`gancourse.energy`.
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


# ----------------------------------------------------------------------------- other variants
def _check_paired(real_scores: Tensor, fake_scores: Tensor) -> None:
    if real_scores.shape != fake_scores.shape:
        raise ValueError(f"relativistic standard losses pair each real with one fake: need equal "
                         f"shapes, got {tuple(real_scores.shape)} and {tuple(fake_scores.shape)}")


def d_loss_rsgan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic standard GAN (Jolicoeur-Martineau, 2019): -E log σ(s_r - s_f), pairs (x, G(z)).

    D estimates the probability that a real sample is more realistic than a fake one.
    """
    _check_paired(real_scores, fake_scores)
    return F.softplus(-(real_scores - fake_scores)).mean()


def g_loss_rsgan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic standard GAN generator loss: -E log σ(s_f - s_r) (needs the real scores)."""
    _check_paired(real_scores, fake_scores)
    return F.softplus(-(fake_scores - real_scores)).mean()


def d_loss_ragan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic average GAN: -E log σ(s_r - E s_f) - E log(1 - σ(s_f - E s_r)) (ESRGAN)."""
    return (F.softplus(-(real_scores - fake_scores.mean())).mean()
            + F.softplus(fake_scores - real_scores.mean()).mean())


def g_loss_ragan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic average GAN generator loss: the roles swapped,
    -E log σ(s_f - E s_r) - E log(1 - σ(s_r - E s_f)); G also gets gradient through the reals'
    term (pass real scores computed with D's graph)."""
    return (F.softplus(-(fake_scores - real_scores.mean())).mean()
            + F.softplus(real_scores - fake_scores.mean()).mean())


def d_loss_softmax(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Softmax GAN (Lin, 2017): cross-entropy between target 1/|B+| on the reals (0 on the
    fakes) and the softmax of the scores over the whole batch B = B+ ∪ B-:
    -E_{B+} s + log Σ_{B} e^s. (The paper writes energies μ = -s.)"""
    return -real_scores.mean() + torch.logsumexp(torch.cat([real_scores, fake_scores]), dim=0)


def g_loss_softmax(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Softmax GAN generator loss: target 1/|B| on every sample, -E_{B} s + log Σ_{B} e^s
    (minimal when D cannot tell reals and fakes apart)."""
    scores = torch.cat([real_scores, fake_scores])
    return -scores.mean() + torch.logsumexp(scores, dim=0)


def d_loss_loss_sensitive(real_losses: Tensor, fake_losses: Tensor, margin: Tensor | float,
                          weight: float = 1.0) -> Tensor:
    """Loss-sensitive GAN (Qi, 2017): E L(x) + λ E[Δ(x, G(z)) + L(x) - L(G(z))]_+.

    ``real_losses``, ``fake_losses``: the learned loss L (low = real) on pairs (x, G(z));
    ``margin``: Δ(x, G(z)) per pair (e.g. the L1 distance) or a constant. A fake needs a loss
    higher than its real partner's by Δ; the paper also keeps L Lipschitz (weight decay).
    """
    return real_losses.mean() + weight * F.relu(margin + real_losses - fake_losses).mean()


def g_loss_loss_sensitive(fake_losses: Tensor) -> Tensor:
    """Loss-sensitive GAN generator loss: E L(G(z))."""
    return fake_losses.mean()


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
