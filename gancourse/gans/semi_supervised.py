"""Triple-GAN (Li, Xu, Zhu & Zhang, 2017): semi-supervised classification with a GAN (notebook 05).

With few labelled images and many unlabelled ones, a classifier C can learn from both if a
conditional GAN judges *(image, label) pairs*. Three players:

* a classifier C, p_c(y | x), labels the unlabelled images: pairs (x, y) ~ p(x) p_c(y | x);
* a class-conditional generator G(z, y) draws images for labels y ~ p(y): pairs ~ p(y) p_g(x | y);
* a discriminator D(x, y) tells pairs of the labelled data p(x, y) from both kinds of fake pair.

With α ∈ (0, 1) (the paper's experiments use α = 1/2) the game is

    min_{C,G} max_D  E_{(x,y)~p}[log D(x, y)] + α E_{x~p, y~p_c(y|x)}[log(1 - D(x, y))]
                     + (1 - α) E_{y~p, z}[log(1 - D(G(z, y), y))],

plus, for C, the cross-entropy on the labelled data R_L = E_{(x,y)~p}[-log p_c(y | x)] and the
"pseudo-discriminative" term R_P = E_{y, z}[-log p_c(y | G(z, y))] (C also learns from G's
labelled samples). At the equilibrium of the full game p(x, y) = p_c(x, y) = p_g(x, y): the
classifier and the generator both describe the data. A single discriminator that must both
classify and judge realism (the K+1-class GAN of Salimans et al., 2016) has two roles that pull
against each other; Triple-GAN gives each role its own network.

Implementation notes (:class:`TripleGANTrainer`, a :class:`~gancourse.training.GANTrainer`):

* D is a :class:`~gancourse.gans.conditional.ProjectionDiscriminator`, so the scores of one image
  with *every* label cost one feature pass (:func:`all_label_scores`), and the expectation over
  p_c(y | x) is computed exactly, Σ_y p_c(y | x) ℓ(D(x, y)), instead of sampling y (the authors'
  code offers both);
* losses in the non-saturating form (softplus of logits): D minimises
  softplus(-D(x_l, y_l)) + α Σ_y p_c softplus(D(x_u, y)) + (1 - α) softplus(D(G(z, y), y));
  G minimises (1 - α) softplus(-D(G(z, y), y)); C minimises
  R_L + α Σ_y p_c(y | x_u) softplus(-D(x_u, y)) + λ_P R_P (R_P switched on after ``rp_start`` of
  the steps, once G draws digits);
* C is a third network registered with ``add_network("netC", C, role="G")``: its parameters are
  their own group in the G optimiser, so G's and C's losses are summed in the generator step;
* data: ``Unpaired(L=labelled images with labels, U=unlabelled images)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.conditional import ProjectionDiscriminator, check_labels
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor


class SmallClassifier(nn.Module):
    """p_c(y | x) for 28 px digits: two strided convolutions and a linear layer -> logits (B, K).

    Dropout before the last layer; no batch norm (C sees labelled, unlabelled and generated
    batches of different statistics)."""

    def __init__(self, num_classes: int = 10, channels: int = 1, width: int = 32, dropout: float = 0.3):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),          # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),         # (B, 2w, 7, 7)
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 49, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[-2:]) != (28, 28):
            raise ValueError(f"SmallClassifier expects images (B, C, 28, 28), got {tuple(x.shape)}")
        return self.net(x)                                                  # (B, K) logits


def all_label_scores(netD: ProjectionDiscriminator, x: Tensor) -> Tensor:
    """D(x_i, k) for every image and every label, (B, K), from one pass of φ:
    ψ(φ(x)) + V φ(x) (the projection discriminator's realism plus each class's match)."""
    if not isinstance(netD, ProjectionDiscriminator):
        raise TypeError(f"all_label_scores needs a ProjectionDiscriminator, got {type(netD).__name__}")
    fmap = netD.features(x)                                                # (B, W, s, s)
    realism = netD.psi(fmap).flatten()                                     # (B,)
    match = fmap.flatten(1) @ netD.embed.weight.to(fmap.dtype).T           # (B, K)
    return realism[:, None] + match                                        # (B, K)


def expected_pair_loss(class_probs: Tensor, label_scores: Tensor, real: bool) -> Tensor:
    """E_x Σ_y p_c(y | x) ℓ(D(x, y)) with ℓ = softplus(-s) (``real=True``: the pair should be
    judged real) or softplus(s) (judged fake). ``class_probs`` and ``label_scores`` are (B, K)."""
    if class_probs.shape != label_scores.shape:
        raise ValueError(f"class_probs {tuple(class_probs.shape)} and label_scores "
                         f"{tuple(label_scores.shape)} must have the same shape (B, K)")
    loss = F.softplus(-label_scores) if real else F.softplus(label_scores)   # (B, K)
    return (class_probs * loss).sum(1).mean()


class TripleGANTrainer(GANTrainer):
    """Triple-GAN on ``Unpaired(L=labelled dataset, U=unlabelled images)``.

    ``netG(z, y)`` is a class-conditional generator, ``netD`` a
    :class:`~gancourse.gans.conditional.ProjectionDiscriminator`, ``netC`` a classifier returning
    logits (B, K), registered as a third network in the G optimiser (learning rate ``lr_c``).
    ``alpha`` weighs C's pairs against G's in D's loss (1/2 in the paper); ``rp_weight`` is λ_P
    of R_P, used from step ``rp_start · steps`` on. The history gets ``loss_C``, ``ce_labelled``
    and ``D_pseudo`` (mean σ(D) on C's pseudo-labelled pairs, expected over p_c).
    """

    def __init__(self, netG: nn.Module, netD: ProjectionDiscriminator, netC: nn.Module, data: Any,
                 config: TrainConfig, num_classes: int, alpha: float = 0.5, rp_weight: float = 0.1,
                 rp_start: float = 0.5, lr_c: float | None = None, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(netD, ProjectionDiscriminator):
            raise TypeError(f"TripleGANTrainer needs a ProjectionDiscriminator (scores for all labels "
                            f"in one pass), got {type(netD).__name__}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
        if not (math.isfinite(rp_weight) and rp_weight >= 0):
            raise ValueError(f"rp_weight must be a finite number >= 0, got {rp_weight}")
        if not 0.0 <= rp_start <= 1.0:
            raise ValueError(f"rp_start is a share of the run in [0, 1], got {rp_start}")
        super().__init__(netG, netD, data, config, device=device, num_classes=int(num_classes),
                         checkpoint=checkpoint, callbacks=callbacks)
        self.add_network("netC", netC, role="G", lr=lr_c)
        self.alpha, self.rp_weight, self.rp_start = float(alpha), float(rp_weight), float(rp_start)

    netC = property(lambda self: self.networks["netC"])
    C = property(lambda self: self.compiled["netC"], doc="netC, compiled when config.compile")

    def _labels(self, batch: Batch) -> Tensor:
        """The labelled images' labels, checked; the batch must come from Unpaired(L=..., U=...)."""
        if "L" not in batch or "L_y" not in batch or "U" not in batch:
            raise ValueError(f"TripleGANTrainer needs batches from Unpaired(L=labelled dataset, "
                             f"U=unlabelled images); this batch holds {', '.join(batch) or 'nothing'}")
        y = batch["L_y"]
        check_labels(y, self.num_classes, len(batch["L"]))
        return y

    def generator_inputs(self, batch: Batch) -> tuple:
        """Noise and labels y ~ p(y) (uniform over the classes) for G's pairs."""
        self._labels(batch)
        n = len(batch["U"])
        y = torch.randint(0, self.num_classes, (n,), device=self.device, generator=self.noise)
        batch["G_y"] = y
        return (self._z(n), y)

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Real labelled pairs vs C's pseudo-labelled pairs (weight α) and G's pairs (1 - α)."""
        y_l, a = self._labels(batch), self.alpha
        real_scores = self.D(batch["L"], y_l)                              # (B,)
        fake_scores = self.D(fake, batch["G_y"])                           # (B,)
        with torch.no_grad():
            probs_u = F.softmax(self.C(batch["U"]).float(), dim=1)         # (B, K), C fixed here
        pseudo = all_label_scores(self.netD, batch["U"]).float()           # (B, K)
        loss_D = (F.softplus(-real_scores.float()).mean()
                  + a * expected_pair_loss(probs_u, pseudo, real=False)
                  + (1 - a) * F.softplus(fake_scores.float()).mean())
        self._log(D_pseudo=(probs_u * torch.sigmoid(pseudo.detach())).sum(1).mean())
        return loss_D, real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        """G's non-saturating loss plus C's loss (R_L, the adversarial pair term, λ_P R_P)."""
        y_g, a = batch["G_y"], self.alpha
        loss_G = (1 - a) * F.softplus(-self.D(fake, y_g).float()).mean()
        ce_l = F.cross_entropy(self.C(batch["L"]).float(), self._labels(batch))
        probs_u = F.softmax(self.C(batch["U"]).float(), dim=1)                 # (B, K)
        with torch.no_grad():
            pseudo = all_label_scores(self.netD, batch["U"]).float()            # D fixed for C
        loss_C = ce_l + a * expected_pair_loss(probs_u, pseudo, real=True)
        if self.rp_weight and self.step >= self.rp_start * self.config.steps:
            loss_C = loss_C + self.rp_weight * F.cross_entropy(self.C(fake.detach()).float(), y_g)
        self._log(loss_C=loss_C, ce_labelled=ce_l)
        return loss_G + loss_C

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
        """Share of ``images`` that C (in eval mode) assigns to their ``labels``."""
        return classifier_accuracy(self.netC, images, labels, self.device, batch_size)


@torch.no_grad()
def classifier_accuracy(netC: nn.Module, images: Tensor, labels: Tensor,
                        device: str | torch.device = "cpu", batch_size: int = 500) -> float:
    """Held-out accuracy of a logits classifier (evaluated in eval mode, mode restored)."""
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (and at least one), got {len(images)} "
                         f"images and {len(labels)} labels")
    was_training = netC.training
    netC.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = netC(images[i:i + batch_size].to(device)).float().cpu()
        correct += int((logits.argmax(1) == labels[i:i + batch_size].cpu()).sum())
    netC.train(was_training)
    return correct / len(images)


def train_classifier_alone(netC: nn.Module, images: Tensor, labels: Tensor, steps: int,
                           batch_size: int = 64, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
                           seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """The baseline: ``netC`` trained by cross-entropy on the labelled images only, with the same
    optimiser, step count and labelled batch size as Triple-GAN's classifier. A supervised
    helper (one network, one optimiser), not a GAN loop."""
    if len(images) != len(labels) or len(images) < 1:
        raise ValueError(f"need as many labels as images, got {len(images)} and {len(labels)}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    g = torch.Generator().manual_seed(seed)
    netC = netC.to(device).train()
    opt = torch.optim.Adam(netC.parameters(), lr=lr, betas=betas)
    for _ in range(int(steps)):
        idx = torch.randint(0, len(images), (batch_size,), generator=g)
        loss = F.cross_entropy(netC(images[idx].to(device)), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return netC.eval()


def labelled_subset(labels: Tensor, per_class: int, num_classes: int, seed: int = 0) -> Tensor:
    """Indices of ``per_class`` examples of each class (a balanced labelled set), shuffled."""
    labels = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(seed)
    picks = []
    for k in range(num_classes):
        idx = torch.nonzero(labels == k).flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {k} has only {len(idx)} examples, fewer than per_class={per_class}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    out = torch.cat(picks)
    return out[torch.randperm(len(out), generator=g)]
