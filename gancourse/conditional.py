"""Conditional GAN training: the discriminator must judge realism *and* match.

A class-conditional discriminator D(x, y) sees an image and a label. Trained only on
(real image, its label) against (fake image, requested label), it may learn to score realism
alone. Mismatched pairs — real images with a wrong label y' ≠ y — are extra negatives
(Reed et al., 2016, "GAN-CLS") that reward D for checking the label:

    L_D = L_real(D(x, y)) + L_neg(D(G(z, y), y)) + λ · L_neg(D(x, y'))

where L_real / L_neg are the positive / negative halves of the adversarial loss (for the
BCE losses L_real(s) = E softplus(-s) = -E log σ(s) and L_neg(s) = E softplus(s) =
-E log(1 - σ(s))) and λ is ``mismatch_weight``. The generator loss is unchanged.

* :func:`wrong_labels` draws y' uniformly from the K - 1 wrong classes;
* :func:`negative_term` and :func:`d_loss_conditional` compute the loss;
* :class:`ConditionalGANTrainer` is :class:`gancourse.training.GANTrainer` with this loss
  in its discriminator step and a ``mismatch`` switch for the ablation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse import losses as L
from gancourse.training import GANTrainer, TrainConfig

Tensor = torch.Tensor

# The negative (fake) half of each discriminator loss in gancourse.losses, per sample:
# d_loss(r, f) = E[positive(r)] + E[negative(f)].
_NEGATIVE: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": F.softplus,                    # -log(1 - σ(s))
    "ns": F.softplus,
    "lsgan": lambda s: 0.5 * s.pow(2),        # ½ (s - 0)²
    "hinge": lambda s: F.relu(1 + s),         # max(0, 1 + s)
    "wgan": lambda s: s,                      # the critic lowers its score on negatives
}


def wrong_labels(y: Tensor, num_classes: int, generator: torch.Generator | None = None) -> Tensor:
    """Labels y' with y'_i ≠ y_i, uniform over the K - 1 wrong classes.

    y'_i = (y_i + r_i) mod K with r_i ~ U{1, ..., K - 1}: a shift by 1..K-1 can never land
    back on y_i, and each wrong class has probability 1 / (K - 1). ``generator`` (on
    ``y``'s device) makes the draw reproducible. The value range of ``y`` is checked for CPU
    tensors (on a GPU that check would wait for the device).
    """
    if int(num_classes) < 2:
        raise ValueError(f"need num_classes >= 2 to draw a wrong label, got {num_classes}")
    if not isinstance(y, Tensor) or y.dtype not in (torch.int64, torch.int32) or y.ndim != 1:
        raise ValueError(f"y must be a 1-D integer tensor of class indices, got "
                         f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
    if y.device.type == "cpu" and len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"y must lie in [0, {num_classes - 1}], got values in "
                         f"[{int(y.min())}, {int(y.max())}]")
    shift = torch.randint(1, num_classes, y.shape, device=y.device, generator=generator)
    return (y + shift) % num_classes                                     # (B,)


def negative_term(scores: Tensor, loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """E[L_neg(s)]: the part of ``loss``'s discriminator loss that pushes scores of
    negatives down (softplus for minimax/ns, ½s² for lsgan, max(0, 1 + s) for hinge, s for
    wgan), so that ``d_loss(r, f) = E L_pos(r) + negative_term(f)``."""
    name = L.get_loss(loss).name
    return _NEGATIVE[name](scores).mean()


def d_loss_conditional(real_scores: Tensor, fake_scores: Tensor, mismatch_scores: Tensor,
                       mismatch_weight: float = 1.0, loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """L_D = d_loss(s_real, s_fake) + λ · E[L_neg(s_mismatch)].

    ``real_scores`` = D(x, y) on real pairs, ``fake_scores`` = D(G(z, y), y),
    ``mismatch_scores`` = D(x, y') with y' ≠ y, λ = ``mismatch_weight`` >= 0 (0: the plain
    loss). For the BCE losses:
    E softplus(-s_r) + E softplus(s_f) + λ E softplus(s_m).
    """
    if not (math.isfinite(mismatch_weight) and mismatch_weight >= 0):
        raise ValueError(f"mismatch_weight must be a finite number >= 0, got {mismatch_weight}")
    if mismatch_scores.ndim != 1 or mismatch_scores.numel() == 0:
        raise ValueError(f"mismatch_scores must be a non-empty 1-D tensor (B,), got shape "
                         f"{tuple(mismatch_scores.shape)}")
    adv = L.get_loss(loss)
    return adv.d_loss(real_scores, fake_scores) + mismatch_weight * negative_term(mismatch_scores, adv)


class ConditionalGANTrainer(GANTrainer):
    """A :class:`~gancourse.training.GANTrainer` for ``netG(z, y)`` / ``netD(x, y)`` whose
    discriminator step adds mismatched pairs (real images with :func:`wrong_labels`) as
    negatives, weighted by ``mismatch_weight`` (:func:`d_loss_conditional`).

    ``mismatch=False`` trains with the plain loss (the ablation) but still measures D on the
    mismatched pairs. Either way the history gets ``D_mismatch``: the mean of σ(D(x, y')) for
    the sigmoid losses, of D(x, y') otherwise — compare it with ``D_real``. The data must
    be labelled (an ImageDataset, or batches ``(x, y)``).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 num_classes: int, mismatch: bool = True, mismatch_weight: float = 1.0,
                 device: str | torch.device = "auto", checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if num_classes is None or int(num_classes) < 2:
            raise ValueError(f"ConditionalGANTrainer needs num_classes >= 2, got {num_classes}")
        if not (math.isfinite(mismatch_weight) and mismatch_weight >= 0):
            raise ValueError(f"mismatch_weight must be a finite number >= 0, got {mismatch_weight}")
        super().__init__(netG, netD, data, config, device=device, num_classes=int(num_classes),
                         checkpoint=checkpoint, callbacks=callbacks)
        self.mismatch = bool(mismatch)
        self.mismatch_weight = float(mismatch_weight)

    def discriminator_loss(self, real: Tensor, fake: Tensor,
                           y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Matching real pairs, fakes and (unless ablated) mismatched real pairs (x, y')."""
        y_wrong = wrong_labels(y, self.num_classes, self.noise)   # (B,), never equal to y
        real_scores = self.D(real, y)
        fake_scores = self.D(fake, y)
        with torch.set_grad_enabled(self.mismatch):    # the ablation only measures it
            mismatch_scores = self.D(real, y_wrong)
        if self.mismatch:
            loss_D = d_loss_conditional(real_scores.float(), fake_scores.float(),
                                        mismatch_scores.float(), self.mismatch_weight, self.loss)
        else:
            loss_D = self.loss.d_loss(real_scores.float(), fake_scores.float())
        self._log(D_mismatch=self._score_stat(mismatch_scores))
        return loss_D, real_scores, fake_scores
