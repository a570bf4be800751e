r"""CycleGAN: unpaired image-to-image translation (Zhu, Park, Isola & Efros, 2017).

Two domains :math:`A` and :math:`B` with no pairs between them. Two generators
:math:`G: A \to B` and :math:`F: B \to A`, two discriminators :math:`D_B` (real B vs
:math:`G(a)`) and :math:`D_A` (real A vs :math:`F(b)`). Least-squares adversarial terms
(Mao et al., 2017):

.. math::

    \mathcal L_{GAN}(G, D_B) :\quad
    D_B \text{ minimises } \tfrac12\big(\mathbb E_b[(D_B(b) - 1)^2] + \mathbb E_a[D_B(G(a))^2]\big),
    \quad G \text{ minimises } \mathbb E_a[(D_B(G(a)) - 1)^2],

and the same for :math:`(F, D_A)`. Adversarial terms alone only ask that :math:`G(a)` look like
*some* B image; any permutation of the B images would do. The **cycle-consistency loss** asks
that translating there and back returns the input,

.. math::

    \mathcal L_{cyc}(G, F) = \mathbb E_a\lVert F(G(a)) - a\rVert_1 + \mathbb E_b\lVert G(F(b)) - b\rVert_1,

so :math:`G` must keep enough of :math:`a` to rebuild it. The **identity loss** (used in the
paper for paintings ↔ photos) asks each generator to leave images of its own output domain
alone, :math:`\mathcal L_{idt} = \mathbb E_b\lVert G(b) - b\rVert_1 + \mathbb E_a\lVert F(a) - a\rVert_1`.
In total

.. math::

    \mathcal L = \mathcal L_{GAN}(G, D_B) + \mathcal L_{GAN}(F, D_A)
               + \lambda\,\mathcal L_{cyc} + \lambda_{id}\,\lambda\,\mathcal L_{idt},
    \qquad \lambda = 10,\ \lambda_{id} = 0.5,

with the identity weight a share of λ, as in the reference code (so λ = 0 removes both).
Each discriminator is updated on a **history buffer** of the last 50 generated images
(Shrivastava et al., 2017) instead of only the newest ones, which damps oscillation.

* :class:`ImageBuffer` — the history buffer (the reference code's ``ImagePool``);
* :class:`CycleGANTrainer` — :class:`~gancourse.training.GANTrainer` with four networks
  (``netG`` = G, ``netD`` = D_B, ``netG_BA`` = F, ``netD_A`` = D_A), ``Unpaired(A=..., B=...)``
  batches, and both buffers checkpointed through ``extra_state``;
* :func:`label_preservation` (the target domain's judge reads the source label),
  :func:`cycle_error` (mean |F(G(a)) - a|), :func:`domain_judge` / :func:`domain_share` (does a
  translation look like its target domain?).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.pix2pix import translate
from gancourse.metrics.classifier import Classifier, accuracy, train_classifier
from gancourse.training import Batch, GANTrainer, TrainConfig, Unpaired

Tensor = torch.Tensor
CYCLE_WEIGHT = 10.0       # λ
IDENTITY_WEIGHT = 0.5     # λ_id, a share of λ
BUFFER_SIZE = 50


class ImageBuffer:
    """A history of generated images for the discriminator (Shrivastava et al., 2017).

    :meth:`query` takes a batch of new fakes and returns a batch of the same size:

    * while fewer than ``size`` images are stored, every new image is stored and returned;
    * once full, each new image is, with probability ½, swapped for a random stored one (the
      stored one is returned, the new one takes its place), and otherwise returned as is.

    So D sees about half new and half older fakes, and an old failure mode it has already
    learned to reject keeps being shown to it. ``size=0`` returns the batch unchanged.
    Images are stored detached; the random draws use the buffer's own CPU generator, whose
    state :meth:`state_dict` saves for exact resumption.
    """

    def __init__(self, size: int = BUFFER_SIZE, seed: int = 0):
        if int(size) < 0:
            raise ValueError(f"buffer size must be >= 0, got {size}")
        self.size = int(size)
        self.images: list[Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """(B, C, H, W) new fakes -> (B, C, H, W) fakes for D: new ones and stored ones."""
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            if len(self.images) < self.size:                     # filling up: store and pass on
                self.images.append(img.clone())
                out.append(img)
            elif float(torch.rand((), generator=self.generator)) < 0.5:
                k = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[k])                       # an older fake for D
                self.images[k] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.images) if self.images else torch.empty(0)
        return {"size": self.size, "images": stored, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"buffer state holds size {int(state['size'])}, this buffer {self.size}")
        self.images = list(state["images"]) if len(state["images"]) else []
        self.generator.set_state(state["generator"].cpu())


def _images(source: Any) -> Tensor:
    return getattr(source, "images", source)


class CycleGANTrainer(GANTrainer):
    """CycleGAN through the one loop: ``G_AB`` is ``netG``, ``D_B`` is ``netD``; ``G_BA``
    (``netG_BA``, G's optimiser) and ``D_A`` (``netD_A``, D's optimiser) are added networks.

    Args:
        G_AB, G_BA: generators A -> B and B -> A.
        D_A, D_B: discriminators of domain A and domain B (raw scores, e.g. PatchGAN maps).
        data: ``Unpaired(A=..., B=...)`` (tensors or ImageDatasets; labels are ignored).
        config: use ``loss="lsgan"`` for the paper's least squares (any separable pair works).
        cycle_weight: λ (paper: 10). 0 is the ablation without cycle consistency.
        identity_weight: λ_id as a share of λ (paper: 0.5; 0 switches the identity loss off).
        buffer_size: images in each history buffer (paper: 50; 0: D sees only the newest).

    The least-squares generator term of the paper is E[(D(G(a)) - 1)²], twice
    :func:`gancourse.losses.g_loss_lsgan` (which carries a ½), so with ``loss="lsgan"`` G's
    adversarial terms are doubled here to keep the paper's balance against λ = 10. The history
    gets ``cycle``, ``identity``, ``adv_G``, ``loss_D_A`` and ``loss_D_B``.
    """

    def __init__(self, G_AB: nn.Module, G_BA: nn.Module, D_A: nn.Module, D_B: nn.Module,
                 data: Unpaired, config: TrainConfig, cycle_weight: float = CYCLE_WEIGHT,
                 identity_weight: float = IDENTITY_WEIGHT, buffer_size: int = BUFFER_SIZE,
                 device: str | torch.device = "auto", checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Unpaired) or set(data.sources) != {"A", "B"}:
            raise ValueError("CycleGANTrainer needs Unpaired(A=..., B=...) data with exactly the "
                             "two domains A and B")
        for name, w in (("cycle_weight", cycle_weight), ("identity_weight", identity_weight)):
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {w}")
        a, b = _images(data.sources["A"]), _images(data.sources["B"])
        if identity_weight > 0 and cycle_weight > 0 and a.shape[1] != b.shape[1]:
            raise ValueError(f"the identity loss feeds B images to G_AB, which needs equal channel "
                             f"counts; A has {a.shape[1]}, B {b.shape[1]}: use identity_weight=0")
        super().__init__(G_AB, D_B, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        if not self.loss.separable:
            raise ValueError(f"CycleGANTrainer needs a separable loss pair (lsgan, ns, hinge, ...), "
                             f"got {config.loss!r}")
        self.add_network("netG_BA", G_BA, role="G")
        self.add_network("netD_A", D_A, role="D")
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        self.adv_scale = 2.0 if config.loss == "lsgan" else 1.0
        self.buffer_A = ImageBuffer(buffer_size, seed=config.seed + 5)       # fakes F(b), for D_A
        self.buffer_B = ImageBuffer(buffer_size, seed=config.seed + 6)       # fakes G(a), for D_B
        n = config.n_samples
        self.fixed_A, self.fixed_B = a[:n].to(self.device), b[:n].to(self.device)

    G_BA = property(lambda self: self.compiled["netG_BA"])
    D_A = property(lambda self: self.compiled["netD_A"])

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        """Both directions: ``{"AB": G_AB(a), "BA": G_BA(b)}``."""
        return {"AB": self.G(batch["A"]), "BA": self.G_BA(batch["B"])}

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """D_B on real b vs buffered G(a), D_A on real a vs buffered F(b), each halved (paper)."""
        fake_B = self.buffer_B.query(fake["AB"])                             # (B, C, H, W)
        fake_A = self.buffer_A.query(fake["BA"])
        r_b, f_b = self.D(batch["B"]).float(), self.D(fake_B).float()
        r_a, f_a = self.D_A(batch["A"]).float(), self.D_A(fake_A).float()
        loss_b, loss_a = self.loss.d_loss(r_b, f_b), self.loss.d_loss(r_a, f_a)
        if self.loss.name in ("ns", "minimax"):                             # the paper halves D's loss
            loss_b, loss_a = 0.5 * loss_b, 0.5 * loss_a                      # (lsgan's ½ is built in)
        self._log(loss_D_A=loss_a, loss_D_B=loss_b)
        return (loss_a + loss_b, torch.cat([r_a.flatten(), r_b.flatten()]),
                torch.cat([f_a.flatten(), f_b.flatten()]))

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        """Adversarial terms both ways + λ · cycle + λ_id · λ · identity."""
        a, b = batch["A"], batch["B"]
        adv = self.adv_scale * (self.loss.g_loss(self.D(fake["AB"]).float())
                                + self.loss.g_loss(self.D_A(fake["BA"]).float()))
        loss = adv
        self._log(adv_G=adv)
        if self.cycle_weight > 0:
            cycle = (F.l1_loss(self.G_BA(fake["AB"]).float(), a.float())     # F(G(a)) ≈ a
                     + F.l1_loss(self.G(fake["BA"]).float(), b.float()))     # G(F(b)) ≈ b
            loss = loss + self.cycle_weight * cycle
            self._log(cycle=cycle)
            if self.identity_weight > 0:
                identity = (F.l1_loss(self.G(b).float(), b.float())          # G leaves B alone
                            + F.l1_loss(self.G_BA(a).float(), a.float()))    # F leaves A alone
                loss = loss + self.identity_weight * self.cycle_weight * identity
                self._log(identity=identity)
        return loss

    def extra_state(self) -> dict[str, Any]:
        return {"buffer_A": self.buffer_A.state_dict(), "buffer_B": self.buffer_B.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer_A" in state:
            self.buffer_A.load_state_dict(state["buffer_A"])
            self.buffer_B.load_state_dict(state["buffer_B"])

    def snapshot_samples(self) -> Tensor:
        """G_AB on the fixed A images, then G_BA on the fixed B images (eval mode), on the CPU."""
        return torch.cat([translate(self.netG, self.fixed_A),
                          translate(self.networks["netG_BA"], self.fixed_B)])


# ----------------------------------------------------------------------------- measuring
def label_preservation(netG: nn.Module, images: Tensor, labels: Tensor, judge: Classifier) -> float:
    """Share of translations G(images) that the *target* domain's judge reads as the source
    images' labels: did the translation keep the digit? (1 = every class kept.)"""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return accuracy(judge, translate(netG, images), labels)


def cycle_error(net_there: nn.Module, net_back: nn.Module, images: Tensor) -> float:
    """Mean absolute error |back(there(x)) - x| per pixel (images in [-1, 1]; 0 = perfect cycle)."""
    there = translate(net_there, images)
    back = translate(net_back, there)
    return (back - images.float().cpu()).abs().mean().item()


def domain_judge(a: Tensor, b: Tensor, n: int | None = None, seed: int = 0, epochs: int | None = None,
                 device: str | torch.device | None = None) -> Classifier:
    """A classifier trained to tell domain A (class 0) from domain B (class 1), on ``n`` real
    images of each (all when None), with the course's judge recipe
    (:func:`gancourse.metrics.train_classifier`; ``epochs`` None: its default of about 200
    steps). It measures whether translations *look like* their target domain, which label
    preservation does not."""
    n = min(len(a), len(b)) if n is None else int(n)
    if n < 1 or n > min(len(a), len(b)) or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"need 1 <= n <= {min(len(a), len(b))} images of equal shape per domain, got "
                         f"n={n}, shapes {tuple(a.shape[1:])} and {tuple(b.shape[1:])}")
    g = torch.Generator().manual_seed(seed)
    ia, ib = torch.randperm(len(a), generator=g)[:n], torch.randperm(len(b), generator=g)[:n]
    images = torch.cat([a[ia], b[ib]])
    labels = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return train_classifier(images, labels, 2, epochs=epochs, device=device, progress=False, seed=seed)


def domain_share(judge: Classifier, images: Tensor, domain: int) -> float:
    """Share of ``images`` that :func:`domain_judge` assigns to ``domain`` (0 = A, 1 = B)."""
    if domain not in (0, 1):
        raise ValueError(f"domain must be 0 (A) or 1 (B), got {domain!r}")
    return (judge.predict(images)[1].argmax(1) == domain).float().mean().item()
