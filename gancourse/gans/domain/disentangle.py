r"""Feature disentangling with an adversarial classifier (Hung-yi Lee's lecture example: voice
conversion with a content encoder and a speaker encoder; Chou et al., 2018).

Two encoders read the same image :math:`x` of domain (speaker) :math:`k`: a **content encoder**
:math:`E_c(x) = c` (what is said: the digit) and a **style encoder** :math:`E_s(x) = s` (who says
it: here the stroke colour and pen), and a decoder rebuilds :math:`\hat x = G(c, s)`. Trained on
reconstruction alone, nothing stops :math:`c` from carrying the style too; then :math:`G` ignores
:math:`s` and swapping style codes changes nothing. A **domain classifier** :math:`C(c)` learns
to read the domain from the content code, and the content encoder learns to fool it:

.. math::

    \min_C\ L_C = \mathbb E\,[-\log C(k \mid E_c(x))], \qquad
    \min_{E_c, E_s, G}\ \mathbb E\,\lVert G(E_c(x), E_s(x)) - x\rVert_1 - \lambda\, L_C ,

the second term taken through the gradient-reversal layer (:mod:`.reversal`). Once no classifier
can read the domain from :math:`c`, the decoder must take it from :math:`s`, and
:math:`G(E_c(x_1), E_s(x_2))` draws :math:`x_1`'s digit in :math:`x_2`'s style: the voice
conversion of the lecture, with digits.

* :class:`ContentEncoder` (a spatial code (B, c, 7, 7)), :class:`StyleEncoder` (a small vector),
  :class:`StyleDecoder` (content map + style vector broadcast over it), :class:`CodeClassifier`;
* :class:`DisentangleTrainer` (``adv_weight=0``: the ablation without the adversary);
* :func:`encode`, :func:`swap_styles`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.domain.reversal import grad_reverse
from gancourse.training import Batch, GANTrainer, Paired, TrainConfig

Tensor = torch.Tensor


def _conv_down(c_in: int, width: int) -> nn.Sequential:
    """(B, c_in, 28, 28) -> (B, 2·width, 7, 7): two stride-2 convolutions."""
    return nn.Sequential(nn.Conv2d(c_in, width, 4, 2, 1), nn.LeakyReLU(0.2, True),          # 14
                         nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True))      # 7


class ContentEncoder(nn.Module):
    """E_c: image (B, C, 28, 28) -> content map (B, code_channels, 7, 7)."""

    def __init__(self, channels: int = 3, width: int = 32, code_channels: int = 8):
        super().__init__()
        self.net = nn.Sequential(_conv_down(channels, width), nn.Conv2d(2 * width, code_channels, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class StyleEncoder(nn.Module):
    """E_s: image (B, C, 28, 28) -> style vector (B, style_dim) (global average over the map)."""

    def __init__(self, channels: int = 3, width: int = 32, style_dim: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(2 * width, style_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.body(x))


class StyleDecoder(nn.Module):
    """G(c, s): content map (B, code_channels, 7, 7) and style (B, style_dim) -> image (B, C, 28, 28).

    The style vector is broadcast over the map and stacked onto the content (as StarGAN stacks
    its labels), then two up-samplings draw the image. The hidden layers are batch-normalised:
    without it the L1-trained tanh output falls, within a few dozen steps, into the "all
    background" minimum of these mostly black images (black squares, even for plain
    reconstruction)."""

    def __init__(self, channels: int = 3, width: int = 32, code_channels: int = 8, style_dim: int = 4):
        super().__init__()
        self.low = nn.Sequential(                                                             # 7 -> 14
            nn.Conv2d(code_channels + style_dim, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(True))
        self.high = nn.Sequential(                                                            # 14 -> 28
            nn.Conv2d(width + style_dim, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())
        self.style_dim = style_dim

    def forward(self, c: Tensor, s: Tensor) -> Tensor:
        if s.ndim != 2 or s.shape[1] != self.style_dim or len(s) != len(c):
            raise ValueError(f"style codes must be (B, {self.style_dim}) with B = {len(c)} content codes, "
                             f"got {tuple(s.shape)}")
        h = self.low(torch.cat([c, s[:, :, None, None].expand(-1, -1, *c.shape[-2:])], 1))  # (B, w, 14, 14)
        h = torch.cat([h, s[:, :, None, None].expand(-1, -1, *h.shape[-2:])], 1)
        return self.high(h)                                                                   # (B, C, 28, 28)


class CodeClassifier(nn.Module):
    """C: code (B, ...) -> domain logits (B, K); a small MLP on the flattened code."""

    def __init__(self, in_dim: int, num_domains: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, hidden), nn.ReLU(True),
                                 nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, num_domains))

    def forward(self, c: Tensor) -> Tensor:
        return self.net(c)


class DisentangleTrainer(GANTrainer):
    """Content / style disentangling through the one loop.

    ``netG`` is the content encoder E_c; the style encoder (``style_encoder``) and the decoder
    (``decoder``) join G's optimiser; ``netD`` is the domain classifier C on content codes.

    Args:
        data: ``Paired(x=images, y=domain indices)`` (long, 0..K-1).
        adv_weight: λ of the adversarial term (0: reconstruction only, the ablation).

    History: ``rec`` (mean |x̂ - x|), ``cls_loss`` (C's cross-entropy), ``acc_C`` (C's batch accuracy).
    Snapshots: reconstructions of the first fixed images.
    """

    def __init__(self, content_encoder: nn.Module, style_encoder: nn.Module, decoder: nn.Module,
                 classifier: nn.Module, data: Paired, config: TrainConfig, adv_weight: float = 1.0,
                 device: str | torch.device = "auto", checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Paired) or set(data.tensors) != {"x", "y"}:
            raise ValueError("DisentangleTrainer needs Paired(x=images, y=domain indices)")
        if data.tensors["y"].dtype != torch.long:
            raise ValueError(f"domain labels must be integer indices (long), got {data.tensors['y'].dtype}")
        if not (math.isfinite(adv_weight) and adv_weight >= 0):
            raise ValueError(f"adv_weight must be a finite number >= 0, got {adv_weight}")
        super().__init__(content_encoder, classifier, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.add_network("style_encoder", style_encoder, role="G")
        self.add_network("decoder", decoder, role="G")
        self.adv_weight = float(adv_weight)
        self.fixed_x = data.tensors["x"][:min(8, config.n_samples)].to(self.device)

    style_encoder = property(lambda self: self.compiled["style_encoder"])
    decoder = property(lambda self: self.compiled["decoder"])

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        """Codes and reconstruction: ``{"c": E_c(x), "s": E_s(x), "x_hat": G(c, s)}``."""
        c, s = self.G(batch.x), self.style_encoder(batch.x)
        return {"c": c, "s": s, "x_hat": self.decoder(c, s)}

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """C's cross-entropy reading the domain from detached content codes."""
        logits = self.D(fake["c"])
        loss = F.cross_entropy(logits.float(), batch.y)
        right = logits.gather(1, batch.y[:, None]).squeeze(1)
        self._log(cls_loss=loss, acc_C=(logits.argmax(1) == batch.y).float().mean())
        return loss, right, logits.mean(1)

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        """|G(c, s) - x| + C's cross-entropy through the reversal layer (E_c gets -λ ∂L_C/∂θ)."""
        rec = F.l1_loss(fake["x_hat"].float(), batch.x.float())
        self._log(rec=rec)
        if self.adv_weight == 0:
            return rec
        logits = self.D(grad_reverse(fake["c"], self.adv_weight))
        return rec + F.cross_entropy(logits.float(), batch.y)

    def snapshot_samples(self) -> Tensor:
        with torch.no_grad():
            nets = [self.netG, self.networks["style_encoder"], self.networks["decoder"]]
            modes = [n.training for n in nets]
            for n in nets:
                n.eval()
            out = nets[2](nets[0](self.fixed_x), nets[1](self.fixed_x)).float().cpu()
            for n, m in zip(nets, modes):
                n.train(m)
        return out


@torch.no_grad()
def encode(content_encoder: nn.Module, style_encoder: nn.Module, images: Tensor,
           batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """(content codes, style codes) of ``images`` in eval mode, on the CPU."""
    nets = (content_encoder, style_encoder)
    modes = [n.training for n in nets]
    for n in nets:
        n.eval()
    device = next(content_encoder.parameters()).device
    cs, ss = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device).float()
        cs.append(content_encoder(x).float().cpu())
        ss.append(style_encoder(x).float().cpu())
    for n, m in zip(nets, modes):
        n.train(m)
    return torch.cat(cs), torch.cat(ss)


@torch.no_grad()
def swap_styles(content_encoder: nn.Module, style_encoder: nn.Module, decoder: nn.Module,
                content_images: Tensor, style_images: Tensor) -> Tensor:
    """G(E_c(x_i), E_s(x'_j)) for every content image i and style image j:
    (n_content, n_style, C, H, W), in eval mode, on the CPU."""
    c, _ = encode(content_encoder, style_encoder, content_images)
    _, s = encode(content_encoder, style_encoder, style_images)
    was = decoder.training
    decoder.eval()
    device = next(decoder.parameters()).device
    n, m = len(c), len(s)
    cc = c.repeat_interleave(m, 0).to(device)
    ss = s.repeat(n, 1).to(device)
    out = torch.cat([decoder(cc[i:i + 512], ss[i:i + 512]).float().cpu() for i in range(0, len(cc), 512)])
    decoder.train(was)
    return out.view(n, m, *out.shape[1:])
