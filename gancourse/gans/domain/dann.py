r"""Domain-adversarial training of neural networks: DANN (Ganin & Lempitsky, 2015; Ganin et al., 2016).

Labelled images of a *source* domain, unlabelled images of a *target* domain, one task (read
the digit). A feature extractor :math:`G_f`, a label predictor :math:`G_y` on its features and a
domain classifier :math:`G_d` (source 0, target 1). DANN seeks the saddle point of

.. math::

    E(\theta_f, \theta_y, \theta_d) = \frac1{n_s}\sum_{i \in S} L_y\big(G_y(G_f(x_i)), y_i\big)
        - \lambda\,\frac1{n}\sum_{i \in S \cup T} L_d\big(G_d(G_f(x_i)), d_i\big),

minimised over :math:`\theta_f, \theta_y` and maximised over :math:`\theta_d`: features that
predict the label on the source *and* leave the domain classifier guessing. Features from which no
classifier can tell the domains apart make the source's label predictor work on the target too
(Ben-David et al.'s bound: target error ≤ source error + a divergence between the two feature
distributions + the error of the best joint predictor).

In the course's loop (one generator step preceded by one discriminator step):

* "D" is the domain classifier :math:`G_d`, trained on detached features to tell source from target;
* "G" is :math:`G_f` with :math:`G_y`: its loss is the source label loss plus the domain loss taken
  through the **gradient-reversal layer**, so :math:`G_f` receives
  :math:`-\lambda\,\partial L_d/\partial\theta_f` (:mod:`.reversal`); λ ramps up and the learning
  rates anneal with DANN's schedules.

The paper updates all three at once with one backward pass through the reversal layer; here D's
and G's updates alternate as in every GAN of the course, with the same two gradients.
``domain_weight=0`` is the **source-only** baseline: the same networks, data and steps, with D
trained alongside as an observer that never touches the features.

* :class:`DigitFeatures`, :class:`LabelHead`, :class:`DomainHead` — the paper's MNIST → MNIST-M
  networks (two 5×5 conv + max-pool layers; 100-unit heads);
* :class:`DANNTrainer`; :func:`features`, :func:`predict_labels`, :func:`label_accuracy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.domain.reversal import dann_lambda, dann_lr_factor, grad_reverse
from gancourse.models.init import dcgan_init
from gancourse.training import Batch, GANTrainer, TrainConfig, Unpaired

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- networks
class DigitFeatures(nn.Module):
    """G_f: (B, C, 28, 28) -> (B, 48·4·4 = 768) features (the paper's MNIST → MNIST-M extractor:
    conv5 32 → max-pool → ReLU → conv5 48 → dropout → max-pool → ReLU)."""

    def __init__(self, channels: int = 3, width: int = 32, dropout: float = 0.1):
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 5), nn.MaxPool2d(2), nn.ReLU(True),            # (B, w, 12, 12)
            nn.Conv2d(width, 48 * width // 32, 5), nn.Dropout2d(dropout), nn.MaxPool2d(2),
            nn.ReLU(True), nn.Flatten())                                              # (B, 48·4·4)
        self.out_dim = (48 * width // 32) * 16

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[-1] != 28:
            raise ValueError(f"DigitFeatures expects (B, {self.channels}, 28, 28), got {tuple(x.shape)}")
        return self.net(x)


class LabelHead(nn.Module):
    """G_y: features (B, d) -> class logits (B, K) (two hidden layers of 100 ReLU units)."""

    def __init__(self, in_dim: int = 768, num_classes: int = 10, hidden: int = 100):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(True), nn.Dropout(0.1),
                                 nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, num_classes))

    def forward(self, f: Tensor) -> Tensor:
        return self.net(f)


class DomainHead(nn.Module):
    """G_d: features (B, ...) -> one domain logit (B,) (flattened; ``hidden`` ReLU units)."""

    def __init__(self, in_dim: int = 768, hidden: int = 100):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, hidden), nn.ReLU(True),
                                 nn.Linear(hidden, 1))
        dcgan_init(self, std=0.05)

    def forward(self, f: Tensor) -> Tensor:
        return self.net(f).squeeze(1)


# ----------------------------------------------------------------------------- trainer
def _images(source: Any) -> Tensor:
    return getattr(source, "images", source)


class DANNTrainer(GANTrainer):
    """DANN through the one loop.

    Args:
        features: G_f (``netG``); label_head: G_y (added to G's optimiser as ``label_head``);
            domain_head: G_d (``netD``).
        data: ``Unpaired(source=ImageDataset, target=images)``: labelled source images, and target
            images whose labels are never used (an ImageDataset is reduced to its images).
        domain_weight: the final λ (paper: 1); 0 gives the source-only baseline.
        schedule: use DANN's λ ramp and learning-rate annealing (:mod:`.reversal`); else λ is
            constant and the learning rates stay as configured.
        monitor: optional held-out ``(images, labels)`` of the target domain whose accuracy the
            snapshots record (evaluation only: no loss ever sees these labels).

    History: ``label_loss``, ``domain_loss`` (D's BCE), ``lambda``, ``acc_domain`` (D's accuracy on
    its batch), ``acc_source`` (label accuracy on the source batch). Snapshots: a dict with the
    monitor's target accuracy and D's batch accuracy.
    """

    def __init__(self, features: nn.Module, label_head: nn.Module, domain_head: nn.Module,
                 data: Unpaired, config: TrainConfig, domain_weight: float = 1.0, schedule: bool = True,
                 monitor: tuple[Tensor, Tensor] | None = None, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Unpaired) or set(data.sources) != {"source", "target"}:
            raise ValueError("DANNTrainer needs Unpaired(source=labelled ImageDataset, target=images)")
        src = data.sources["source"]
        if getattr(src, "labels", None) is None:
            raise ValueError("the source domain needs labels: pass an ImageDataset (images, labels)")
        if not (math.isfinite(domain_weight) and domain_weight >= 0):
            raise ValueError(f"domain_weight must be a finite number >= 0, got {domain_weight}")
        data = Unpaired(source=src, target=_images(data.sources["target"]))   # target labels dropped
        super().__init__(features, domain_head, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.add_network("label_head", label_head, role="G")
        self.domain_weight, self.schedule = float(domain_weight), bool(schedule)
        self.lam = self.domain_weight if not schedule else 0.0
        self.monitor = monitor

    label_head = property(lambda self: self.compiled["label_head"])

    def before_step(self) -> None:
        """λ_p and the annealed learning rates for this step (p = step / steps)."""
        super().before_step()
        if self.schedule:
            p = min(1.0, self.step / max(1, self.config.steps))
            self.lam = self.domain_weight * dann_lambda(p)
            f = dann_lr_factor(p)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["base_lr"] * f

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        """Features of the source and the target batch: ``{"source": G_f(x_s), "target": G_f(x_t)}``."""
        return {"source": self.G(batch["source"]), "target": self.G(batch["target"])}

    def _domain_loss(self, s: Tensor, t: Tensor) -> Tensor:
        """BCE of the domain logits: source labelled 0, target 1 (mean over both batches)."""
        return 0.5 * (F.binary_cross_entropy_with_logits(s.float(), torch.zeros_like(s.float()))
                      + F.binary_cross_entropy_with_logits(t.float(), torch.ones_like(t.float())))

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """G_d learns to tell source features (0) from target features (1)."""
        s, t = self.D(fake["source"]), self.D(fake["target"])
        loss = self._domain_loss(s, t)
        acc = 0.5 * ((s < 0).float().mean() + (t > 0).float().mean())
        self._log(domain_loss=loss, acc_domain=acc)
        return loss, -s, -t                                  # D_real/D_fake: P(source) on each

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        """L_y on the source batch + L_d through the reversal layer (G_f gets -λ ∂L_d/∂θ_f)."""
        logits = self.label_head(fake["source"])
        label_loss = F.cross_entropy(logits.float(), batch["source_y"])
        self._log(label_loss=label_loss, lam=torch.tensor(self.lam),
                  acc_source=(logits.argmax(1) == batch["source_y"]).float().mean())
        if self.lam == 0:
            return label_loss
        s = self.D(grad_reverse(fake["source"], self.lam))
        t = self.D(grad_reverse(fake["target"], self.lam))
        return label_loss + self._domain_loss(s, t)

    def snapshot_samples(self) -> dict[str, float]:
        out: dict[str, float] = {"lambda": self.lam}
        if self.monitor is not None:
            out["target_accuracy"] = label_accuracy(self.netG, self.networks["label_head"], *self.monitor)
        return out


# ----------------------------------------------------------------------------- using it
@torch.no_grad()
def features(net: nn.Module, images: Tensor, batch_size: int = 512) -> Tensor:
    """``net(images)`` in eval mode on the CPU (features or codes), batch by batch."""
    was = net.training
    net.eval()
    device = next(net.parameters()).device
    out = [net(images[i:i + batch_size].to(device).float()).float().cpu()
           for i in range(0, len(images), batch_size)]
    net.train(was)
    return torch.cat(out)


@torch.no_grad()
def predict_labels(feature_net: nn.Module, label_head: nn.Module, images: Tensor) -> Tensor:
    """Predicted classes (N,) of ``label_head(feature_net(images))``, eval mode, CPU."""
    was = label_head.training
    label_head.eval()
    device = next(label_head.parameters()).device
    f = features(feature_net, images)
    pred = torch.cat([label_head(f[i:i + 1024].to(device)).argmax(1).cpu() for i in range(0, len(f), 1024)])
    label_head.train(was)
    return pred


def label_accuracy(feature_net: nn.Module, label_head: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` whose predicted class equals ``labels``."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return (predict_labels(feature_net, label_head, images) == labels.cpu()).float().mean().item()
