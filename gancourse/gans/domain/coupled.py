r"""Projection to a common space with coupled encoders and decoders (the CoGAN / UNIT idea).

Two domains :math:`A` and :math:`B`, no pairs. Each has an encoder :math:`E_A, E_B` into one
latent space and a decoder :math:`G_A, G_B` out of it. If an image and its counterpart in the
other domain land on the same code, :math:`G_B(E_A(a))` translates :math:`a` into :math:`B`.
Two devices push the codes of the two domains together:

* **shared layers** (Liu & Tuzel's CoGAN, 2016; Liu, Breuel & Kautz's UNIT, 2017): the
  encoders' *last* layers and the decoders' *first* layers are one and the same network for
  both domains; only the layers next to the pixels (colour, texture) are private. High-level
  content then has to be coded the same way in both domains.
* **a latent domain discriminator** (as in DANN, :mod:`.dann`): a classifier tries to tell
  :math:`E_A(a)` from :math:`E_B(b)`; the encoders learn, through the gradient-reversal layer, to
  make the two code distributions indistinguishable.

Each domain is trained as an autoencoder, :math:`\lVert G_A(E_A(a)) - a\rVert_1 +
\lVert G_B(E_B(b)) - b\rVert_1`, plus λ times the latent adversary's loss through the reversal
layer. (UNIT adds image GANs on the translations and a cycle loss; this is the core of the idea.)

* :class:`CoupledAutoencoders` (``share=False``: the same layers, but each domain has its own copy);
* :class:`LatentDiscriminator`; :class:`SharedLatentTrainer`; :func:`translate`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.domain.reversal import grad_reverse
from gancourse.training import Batch, GANTrainer, TrainConfig, Unpaired

Tensor = torch.Tensor
DOMAINS = ("A", "B")


class CoupledAutoencoders(nn.Module):
    """E_A, E_B, G_A, G_B for 28 px images, with the inner layers shared.

    Encoders: private 4×4 stride-2 conv (28 -> 14), then shared 4×4 stride-2 conv (14 -> 7) and a
    3×3 conv to the code (B, code_channels, 7, 7). Decoders: shared 3×3 conv and 4×4 transposed
    conv (7 -> 14), each followed by batch normalisation and ReLU, then a private transposed conv
    to the image (14 -> 28) and tanh. ``share=False`` gives each domain its own copy of the inner
    layers (the ablation).

    The batch normalisation is what lets these autoencoders learn at all: the images are mostly
    background (-1), and without it an L1-trained tanh decoder falls into the "all background"
    minimum within a few dozen Adam steps (every pixel's median is -1, the tanh saturates and its
    gradient vanishes), drawing black squares; with the latent adversary pushing the codes around,
    a decoder that had escaped can fall back into it later. With ``share=True`` the normalisation
    layers are shared too, so the running statistics used in eval mode mix both domains' batches.
    """

    def __init__(self, channels_a: int = 3, channels_b: int = 3, width: int = 32, code_channels: int = 16,
                 share: bool = True):
        super().__init__()
        self.share = bool(share)
        self.enc_private = nn.ModuleDict({
            d: nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True))
            for d, c in zip(DOMAINS, (channels_a, channels_b))})
        enc_inner = nn.Sequential(nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(2 * width, code_channels, 3, 1, 1))
        dec_inner = nn.Sequential(nn.Conv2d(code_channels, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width),
                                  nn.ReLU(True),
                                  nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width),
                                  nn.ReLU(True))
        own = (lambda m: m) if share else copy.deepcopy                     # noqa: E731
        self.enc_shared = nn.ModuleDict({d: own(enc_inner) for d in DOMAINS})
        self.dec_shared = nn.ModuleDict({d: own(dec_inner) for d in DOMAINS})
        self.dec_private = nn.ModuleDict({
            d: nn.Sequential(nn.ConvTranspose2d(width, c, 4, 2, 1), nn.Tanh())
            for d, c in zip(DOMAINS, (channels_a, channels_b))})

    @staticmethod
    def _check(domain: str) -> str:
        if domain not in DOMAINS:
            raise ValueError(f"domain must be 'A' or 'B', got {domain!r}")
        return domain

    def encode(self, x: Tensor, domain: str) -> Tensor:
        """E_domain(x): (B, C, 28, 28) -> code (B, code_channels, 7, 7)."""
        d = self._check(domain)
        return self.enc_shared[d](self.enc_private[d](x))

    def decode(self, z: Tensor, domain: str) -> Tensor:
        """G_domain(z): code -> image (B, C, 28, 28) in [-1, 1]."""
        d = self._check(domain)
        return self.dec_private[d](self.dec_shared[d](z))

    def forward(self, x: Tensor, source: str, target: str) -> Tensor:
        """G_target(E_source(x)): reconstruction when source == target, translation otherwise."""
        return self.decode(self.encode(x, source), target)


class LatentDiscriminator(nn.Module):
    """Domain logit (B,) of a code (B, code_channels, 7, 7): B (1) or A (0)."""

    def __init__(self, code_channels: int = 16, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(code_channels, 32, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                 nn.Flatten(), nn.Linear(32 * 49, hidden), nn.LeakyReLU(0.2, True),
                                 nn.Linear(hidden, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).squeeze(1)


class SharedLatentTrainer(GANTrainer):
    """Coupled autoencoders (``netG``) against a latent domain discriminator (``netD``).

    Args:
        data: ``Unpaired(A=..., B=...)`` (labels, if any, are never used).
        adv_weight: λ of the latent adversary through the reversal layer (0: autoencoders only).

    History: ``rec_A``, ``rec_B`` (mean |x̂ - x|), ``acc_latent`` (the discriminator's batch accuracy).
    Snapshots: the fixed A images translated to B, then the fixed B images translated to A.
    """

    def __init__(self, model: CoupledAutoencoders, latent_d: nn.Module, data: Unpaired, config: TrainConfig,
                 adv_weight: float = 1.0, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Unpaired) or set(data.sources) != set(DOMAINS):
            raise ValueError("SharedLatentTrainer needs Unpaired(A=..., B=...) data")
        if not (math.isfinite(adv_weight) and adv_weight >= 0):
            raise ValueError(f"adv_weight must be a finite number >= 0, got {adv_weight}")
        images = {d: getattr(data.sources[d], "images", data.sources[d]) for d in DOMAINS}
        data = Unpaired(**images)                                        # labels dropped
        super().__init__(model, latent_d, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.adv_weight = float(adv_weight)
        n = min(8, config.n_samples)
        self.fixed = {d: images[d][:n].to(self.device) for d in DOMAINS}

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        """Codes of both batches: ``{"A": E_A(a), "B": E_B(b)}``."""
        return {d: self.G.encode(batch[d], d) for d in DOMAINS}

    def _latent_loss(self, za: Tensor, zb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        sa, sb = self.D(za).float(), self.D(zb).float()
        loss = 0.5 * (F.binary_cross_entropy_with_logits(sa, torch.zeros_like(sa))
                      + F.binary_cross_entropy_with_logits(sb, torch.ones_like(sb)))
        return loss, sa, sb

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """The latent discriminator tells E_A(a) (0) from E_B(b) (1), codes detached."""
        loss, sa, sb = self._latent_loss(fake["A"], fake["B"])
        self._log(acc_latent=0.5 * ((sa < 0).float().mean() + (sb > 0).float().mean()))
        return loss, -sa, -sb

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        """|G_A(E_A(a)) - a| + |G_B(E_B(b)) - b| + the latent loss through the reversal layer."""
        rec = {d: F.l1_loss(self.G.decode(fake[d], d).float(), batch[d].float()) for d in DOMAINS}
        self._log(rec_A=rec["A"], rec_B=rec["B"])
        loss = rec["A"] + rec["B"]
        if self.adv_weight > 0:
            adv, _, _ = self._latent_loss(grad_reverse(fake["A"], self.adv_weight),
                                          grad_reverse(fake["B"], self.adv_weight))
            loss = loss + adv
        return loss

    def snapshot_samples(self) -> Tensor:
        return torch.cat([translate(self.netG, self.fixed["A"], "A", "B"),
                          translate(self.netG, self.fixed["B"], "B", "A")])


@torch.no_grad()
def translate(model: CoupledAutoencoders, images: Tensor, source: str, target: str,
              batch_size: int = 512) -> Tensor:
    """G_target(E_source(images)) in eval mode, on the CPU."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [model(images[i:i + batch_size].to(device).float(), source, target).float().cpu()
           for i in range(0, len(images), batch_size)]
    model.train(was)
    return torch.cat(out)
