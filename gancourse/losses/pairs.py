"""Adversarial loss pairs: what D (or the critic) minimises and what G minimises.

Every discriminator in the package returns raw scores ``s = D(x)``: a logit for the
sigmoid-based losses, a real number for the others, one per sample (B,) or per patch
(B, H, W) for PatchGAN. A loss is *separable* when D's loss is a sum of a term on the real
scores and a term on the fake scores,

    L_D = E_x[ℓ_real(D(x))] + E_z[ℓ_fake(D(G(z)))],

and those two halves are exposed (``real_term``, ``fake_term``, per element) so that variants
can reuse them: the conditional GAN adds mismatched real pairs as extra negatives with
``fake_term``, pix2pix applies the halves to every patch score. With σ the sigmoid and
``softplus(t) = log(1 + e^t)`` (``-log σ(s) = softplus(-s)``, ``-log(1 - σ(s)) = softplus(s)``,
finite for any logit):

=============  ==========================  ==========================  ==============================
name           ℓ_real(s)                   ℓ_fake(s)                   generator loss
=============  ==========================  ==========================  ==============================
``minimax``    -log σ(s)                   -log(1 - σ(s))              E log(1 - σ(s_f)) (saturating)
``ns``         -log σ(s)                   -log(1 - σ(s))              -E log σ(s_f) (non-saturating)
``lsgan``      ½ (s - b)²,  b = 1          ½ (s - a)²,  a = 0          ½ E (s_f - c)²,  c = 1
``hinge``      max(0, 1 - s)               max(0, 1 + s)               -E s_f
``wgan``       -s                          s                           -E s_f
=============  ==========================  ==========================  ==============================

Not separable (their terms couple real and fake scores), so ``real_term``/``fake_term`` are
None and the generator loss also takes the real scores, ``g_loss(fake, real)``
(``needs_real``):

* ``rsgan`` relativistic standard GAN, pairs (x, G(z)): L_D = -E log σ(s_r - s_f),
  L_G = -E log σ(s_f - s_r) (Jolicoeur-Martineau, 2019);
* ``ragan`` relativistic average GAN (ESRGAN): L_D = -E log σ(s_r - E s_f) - E log(1 - σ(s_f - E s_r)),
  and L_G with the roles swapped;
* ``softmax`` Softmax GAN (Lin, 2017): cross-entropy between target 1/|B+| on the reals and the
  softmax of all scores, L_D = -E_{B+} s + log Σ_B e^s; L_G targets 1/|B| on every sample.

All losses are *minimised*; :data:`LOSSES` maps names to :class:`AdversarialLoss`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- halves
def real_term_bce(s: Tensor) -> Tensor:
    """-log σ(s) per element: D's loss on a real score (also the non-saturating G loss)."""
    return F.softplus(-s)


def fake_term_bce(s: Tensor) -> Tensor:
    """-log(1 - σ(s)) per element: D's loss on a fake score."""
    return F.softplus(s)


def real_term_hinge(s: Tensor) -> Tensor:
    """max(0, 1 - s): real scores above 1 cost D nothing."""
    return F.relu(1 - s)


def fake_term_hinge(s: Tensor) -> Tensor:
    """max(0, 1 + s): fake scores below -1 cost D nothing."""
    return F.relu(1 + s)


# ----------------------------------------------------------------------------- separable losses
def d_loss_bce(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], D = σ(s): the negated value function V."""
    return real_term_bce(real_scores).mean() + fake_term_bce(fake_scores).mean()


def g_loss_minimax(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """E[log(1 - D(G(z)))]: the original (saturating) generator loss.

    Its gradient w.r.t. the logit is -σ(s_f), which vanishes when D confidently rejects
    the fakes (σ(s_f) ≈ 0) — exactly the situation at the start of training.
    """
    return -fake_term_bce(fake_scores).mean()


def g_loss_nonsaturating(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss; gradient -(1 - σ(s_f)) ≈ -1
    when D rejects the fakes."""
    return real_term_bce(fake_scores).mean()


def d_loss_ls(real_scores: Tensor, fake_scores: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """½E[(D(x) - b)²] + ½E[(D(G(z)) - a)²]: least squares with target ``b`` for real and
    ``a`` for fake scores (Mao et al., 2017). ``a = 0, b = 1`` is the ``lsgan`` pair."""
    return 0.5 * ((real_scores - b).pow(2).mean() + (fake_scores - a).pow(2).mean())


def g_loss_ls(fake_scores: Tensor, c: float = 1.0) -> Tensor:
    """½E[(D(G(z)) - c)²]: the generator wants its fakes scored ``c``."""
    return 0.5 * (fake_scores - c).pow(2).mean()


def d_loss_lsgan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Least squares with targets b = 1 (real) and a = 0 (fake): :func:`d_loss_ls` (a=0, b=1)."""
    return d_loss_ls(real_scores, fake_scores, a=0.0, b=1.0)


def g_loss_lsgan(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """½E[(D(G(z)) - c)²] with c = 1: pulls fakes towards the real target."""
    return g_loss_ls(fake_scores, c=1.0)


def d_loss_hinge(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (SNGAN, SAGAN, BigGAN)."""
    return real_term_hinge(real_scores).mean() + fake_term_hinge(fake_scores).mean()


def d_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: minus the Kantorovich–Rubinstein estimate of W1.

    Only meaningful when D is (close to) 1-Lipschitz: clip its weights or penalise
    its gradient.
    """
    return fake_scores.mean() - real_scores.mean()


def g_loss_mean_score(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """-E[D(G(z))]: the generator loss of WGAN and of the hinge GAN."""
    return -fake_scores.mean()


# ----------------------------------------------------------------------------- coupled losses
def _check_paired(real_scores: Tensor, fake_scores: Tensor) -> None:
    if real_scores.shape != fake_scores.shape:
        raise ValueError(f"relativistic standard losses pair each real with one fake: need equal "
                         f"shapes, got {tuple(real_scores.shape)} and {tuple(fake_scores.shape)}")


def _need_real(name: str, real_scores: Tensor | None) -> Tensor:
    if real_scores is None:
        raise ValueError(f"the {name} generator loss compares fakes with reals: pass "
                         f"g_loss(fake_scores, real_scores)")
    return real_scores


def d_loss_rsgan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic standard GAN (Jolicoeur-Martineau, 2019): -E log σ(s_r - s_f), pairs (x, G(z)).

    D estimates the probability that a real sample is more realistic than a fake one.
    """
    _check_paired(real_scores, fake_scores)
    return F.softplus(-(real_scores - fake_scores)).mean()


def g_loss_rsgan(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """Relativistic standard GAN generator loss: -E log σ(s_f - s_r) (needs the real scores)."""
    real_scores = _need_real("rsgan", real_scores)
    _check_paired(real_scores, fake_scores)
    return F.softplus(-(fake_scores - real_scores)).mean()


def d_loss_ragan(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Relativistic average GAN: -E log σ(s_r - E s_f) - E log(1 - σ(s_f - E s_r)) (ESRGAN)."""
    return (F.softplus(-(real_scores - fake_scores.mean())).mean()
            + F.softplus(fake_scores - real_scores.mean()).mean())


def g_loss_ragan(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """Relativistic average GAN generator loss: the roles swapped,
    -E log σ(s_f - E s_r) - E log(1 - σ(s_r - E s_f)); G also gets gradient through the reals'
    term (pass real scores computed with D's graph)."""
    real_scores = _need_real("ragan", real_scores)
    return (F.softplus(-(fake_scores - real_scores.mean())).mean()
            + F.softplus(real_scores - fake_scores.mean()).mean())


def d_loss_softmax(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Softmax GAN (Lin, 2017): cross-entropy between target 1/|B+| on the reals (0 on the
    fakes) and the softmax of the scores over the whole batch B = B+ ∪ B-:
    -E_{B+} s + log Σ_{B} e^s. (The paper writes energies μ = -s.)"""
    return -real_scores.mean() + torch.logsumexp(torch.cat([real_scores, fake_scores]), dim=0)


def g_loss_softmax(fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """Softmax GAN generator loss: target 1/|B| on every sample, -E_{B} s + log Σ_{B} e^s
    (minimal when D cannot tell reals and fakes apart)."""
    scores = torch.cat([_need_real("softmax", real_scores), fake_scores])
    return -scores.mean() + torch.logsumexp(scores, dim=0)


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class AdversarialLoss:
    """A named loss pair.

    ``d_loss(real_scores, fake_scores)`` and ``g_loss(fake_scores, real_scores=None)`` are
    minimised by D and G. For separable losses ``real_term`` / ``fake_term`` give D's loss per
    element (``d_loss = mean real_term(s_r) + mean fake_term(s_f)``); they are None otherwise.
    ``needs_real``: G's loss needs the real scores too. ``sigmoid``: scores are logits of a
    probability (then ``D(x)`` in the training history is σ(s), else the raw score).
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[..., Tensor]
    sigmoid: bool
    real_term: Callable[[Tensor], Tensor] | None = None
    fake_term: Callable[[Tensor], Tensor] | None = None
    needs_real: bool = False

    @property
    def separable(self) -> bool:
        return self.real_term is not None and self.fake_term is not None


def _half_ls_real(s: Tensor) -> Tensor:
    return 0.5 * (s - 1).pow(2)


def _half_ls_fake(s: Tensor) -> Tensor:
    return 0.5 * s.pow(2)


def _neg(s: Tensor) -> Tensor:
    return -s


def _identity(s: Tensor) -> Tensor:
    return s


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss("minimax", d_loss_bce, g_loss_minimax, True, real_term_bce, fake_term_bce),
    "ns": AdversarialLoss("ns", d_loss_bce, g_loss_nonsaturating, True, real_term_bce, fake_term_bce),
    "lsgan": AdversarialLoss("lsgan", d_loss_lsgan, g_loss_lsgan, False, _half_ls_real, _half_ls_fake),
    "hinge": AdversarialLoss("hinge", d_loss_hinge, g_loss_mean_score, False, real_term_hinge,
                             fake_term_hinge),
    "wgan": AdversarialLoss("wgan", d_loss_wasserstein, g_loss_mean_score, False, _neg, _identity),
    "rsgan": AdversarialLoss("rsgan", d_loss_rsgan, g_loss_rsgan, True, needs_real=True),
    "ragan": AdversarialLoss("ragan", d_loss_ragan, g_loss_ragan, True, needs_real=True),
    "softmax": AdversarialLoss("softmax", d_loss_softmax, g_loss_softmax, False, needs_real=True),
}


def get_loss(name: str | AdversarialLoss) -> AdversarialLoss:
    """Look a loss up by name (one of :data:`LOSSES`) or pass an :class:`AdversarialLoss` through."""
    if isinstance(name, AdversarialLoss):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid losses are {', '.join(LOSSES)}")
    return LOSSES[name]


# ----------------------------------------------------------------------------- conditional
def d_loss_conditional(real_scores: Tensor, fake_scores: Tensor, mismatch_scores: Tensor,
                       mismatch_weight: float = 1.0, loss: str | AdversarialLoss = "ns") -> Tensor:
    """Conditional D loss with mismatched pairs (Reed et al., 2016, "GAN-CLS"):
    L_D = d_loss(s_real, s_fake) + λ · E[ℓ_fake(s_mismatch)].

    ``real_scores`` = D(x, y) on real pairs, ``fake_scores`` = D(G(z, y), y),
    ``mismatch_scores`` = D(x, y') with y' ≠ y: real images with a wrong label are negatives
    too; λ = ``mismatch_weight`` >= 0 (0: the plain loss). For the BCE losses:
    E softplus(-s_r) + E softplus(s_f) + λ E softplus(s_m). Needs a separable loss.
    """
    if not (math.isfinite(mismatch_weight) and mismatch_weight >= 0):
        raise ValueError(f"mismatch_weight must be a finite number >= 0, got {mismatch_weight}")
    if mismatch_scores.ndim != 1 or mismatch_scores.numel() == 0:
        raise ValueError(f"mismatch_scores must be a non-empty 1-D tensor (B,), got shape "
                         f"{tuple(mismatch_scores.shape)}")
    adv = get_loss(loss)
    if not adv.separable:
        raise ValueError(f"mismatched pairs need a loss with separate real and fake halves; "
                         f"{adv.name!r} couples them (use one of "
                         f"{', '.join(k for k, v in LOSSES.items() if v.separable)})")
    return adv.d_loss(real_scores, fake_scores) + mismatch_weight * adv.fake_term(mismatch_scores).mean()
