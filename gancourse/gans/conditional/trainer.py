"""Conditional GAN training: the discriminator must judge realism *and* match.

A class-conditional discriminator D(x, y) sees an image and a label. Trained only on
(real image, its label) against (fake image, requested label), it may learn to score realism
alone. Mismatched pairs — real images with a wrong label y' ≠ y — are extra negatives
(Reed et al., 2016, "GAN-CLS") that reward D for checking the label:

    L_D = E ℓ_real(D(x, y)) + E ℓ_fake(D(G(z, y), y)) + λ · E ℓ_fake(D(x, y'))

where ℓ_real / ℓ_fake are the real and fake halves of the adversarial loss
(:func:`gancourse.losses.d_loss_conditional`; for the BCE losses ℓ_real(s) = -log σ(s) and
ℓ_fake(s) = -log(1 - σ(s))) and λ is ``mismatch_weight``. The generator loss is unchanged.

* :func:`wrong_labels` draws y' uniformly from the K - 1 wrong classes;
* :class:`ConditionalGANTrainer` is :class:`gancourse.training.GANTrainer` with this loss
  in its discriminator step and a ``mismatch`` switch for the ablation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.losses import d_loss_conditional
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor


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

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Matching real pairs, fakes and (unless ablated) mismatched real pairs (x, y')."""
        real, y = batch.x, batch.y
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
        self._log(D_mismatch=self.score_stat(mismatch_scores))
        return loss_D, real_scores, fake_scores
