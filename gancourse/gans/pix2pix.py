r"""pix2pix: image-to-image translation with a conditional GAN (Isola et al., 2017).

The generator maps an input image :math:`x` (edges, a label map) to an output :math:`G(x)`; there
is no :math:`z` (the paper's only noise is dropout in G). A conditional discriminator judges
*pairs*: real :math:`(x, y)` against fake :math:`(x, G(x))`, stacked along the channels, so it
checks that the output is realistic **and** fits its input:

.. math::

    \mathcal L_{cGAN}(G, D) = \mathbb E_{x,y}[\log D(x, y)] + \mathbb E_x[\log(1 - D(x, G(x)))],
    \qquad \mathcal L_{L1}(G) = \mathbb E_{x,y}\,\lVert y - G(x)\rVert_1,

.. math::

    G^* = \arg\min_G \max_D \; \mathcal L_{cGAN}(G, D) + \lambda\,\mathcal L_{L1}(G), \qquad \lambda = 100.

The L1 term alone gives the per-pixel *median* of the plausible outputs: right at low
frequencies, blurred wherever the input leaves details open. The adversarial term, with a
PatchGAN D that scores every patch (:class:`gancourse.models.patchgan.PatchGANDiscriminator`),
penalises that blur. As in the paper, D's loss is halved and G minimises the non-saturating
:math:`-\log D(x, G(x))`.

* :class:`Pix2PixTrainer` — :class:`~gancourse.training.GANTrainer` with ``generator_inputs``
  giving the input image, D on (input, output) pairs, ``l1_weight`` λ and ``adv_weight``
  (0: the L1-only baseline, D still trained alongside as an observer);
* :func:`receptive_field` — the receptive field of one output cell, from the layers;
  :func:`receptive_field_by_gradient` — the same, measured by back-propagating from one cell;
* :func:`translate`, :func:`judge_accuracy` (the digits judge reads translated digits),
  :func:`sharpness` (variance of the Laplacian: blur lowers it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.data.translation import luminance, paired_jitter
from gancourse.metrics.classifier import Classifier, accuracy
from gancourse.training import Batch, GANTrainer, Paired, TrainConfig

Tensor = torch.Tensor
L1_WEIGHT = 100.0          # λ of the paper


# ----------------------------------------------------------------------------- trainer
class Pix2PixTrainer(GANTrainer):
    """Trains ``netG`` (input image -> output image) against a conditional ``netD`` on a
    :class:`~gancourse.training.Paired` source with ``input`` and ``target`` tensors.

    Args:
        l1_weight: λ of the L1 term (paper: 100).
        adv_weight: weight of the adversarial term in G's loss; 0 trains G on L1 alone (D is
            still trained on the L1 outputs: its scores show how easily they are told apart).
        conditional: D sees (input, output) stacked along channels; False: the output alone
            (the paper's unconditional ablation). ``netD``'s ``in_channels`` must match.
        jitter: pix2pix's random jitter (:func:`gancourse.data.translation.paired_jitter`) with
            this padding in pixels, applied to each training pair; None: no augmentation.
        flip: mirror pairs at random as part of the jitter.

    The history gets ``l1`` (mean |G(x) - y|) and ``adv_G``; snapshots hold G's outputs for
    the first ``config.n_samples`` training inputs (``fixed_input``).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Paired, config: TrainConfig,
                 l1_weight: float = L1_WEIGHT, adv_weight: float = 1.0, conditional: bool = True,
                 jitter: int | None = None, flip: bool = False, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Paired) or not {"input", "target"} <= set(data.tensors):
            raise ValueError("Pix2PixTrainer needs Paired(input=..., target=...) data, e.g. "
                             "gancourse.data.translation.edges2digits().paired()")
        if l1_weight < 0 or adv_weight < 0:
            raise ValueError(f"l1_weight and adv_weight must be >= 0, got {l1_weight} and {adv_weight}")
        if l1_weight == 0 and adv_weight == 0:
            raise ValueError("l1_weight and adv_weight are both 0: G would have nothing to learn")
        super().__init__(netG, netD, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.l1_weight, self.adv_weight = float(l1_weight), float(adv_weight)
        self.conditional = bool(conditional)
        self.jitter, self.flip = jitter, bool(flip)
        self.jitter_rng = torch.Generator().manual_seed(config.seed + 4)
        self.fixed_input = data.tensors["input"][:config.n_samples].to(self.device)

    def _pair(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.cat([x, y], dim=1) if self.conditional else y          # (B, C_in + C_out, H, W)

    def generator_inputs(self, batch: Batch) -> tuple:
        return (batch["input"],)

    def generate(self, batch: Batch) -> Tensor:
        if self.jitter is not None:                        # the same crop and mirror for both images
            batch["input"], batch["target"] = paired_jitter(batch["input"], batch["target"],
                                                            generator=self.jitter_rng, pad=self.jitter,
                                                            flip=self.flip)
        return self.G(*self.generator_inputs(batch))

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """½ (ℓ_real(D(x, y)) + ℓ_fake(D(x, G(x)))), averaged over every patch score."""
        x = batch["input"]
        real_scores = self.D(self._pair(x, batch["target"]))                # (B, 1, h, w)
        fake_scores = self.D(self._pair(x, fake))
        loss = 0.5 * self.loss.d_loss(real_scores.float(), fake_scores.float())
        return loss, real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        """adv_weight · ℓ_G(D(x, G(x))) + λ · mean |G(x) - y|."""
        l1 = F.l1_loss(fake.float(), batch["target"].float())
        loss = self.l1_weight * l1
        if self.adv_weight > 0:
            adv = self.loss.g_loss(self.D(self._pair(batch["input"], fake)).float())
            loss = loss + self.adv_weight * adv
            self._log(adv_G=adv)
        self._log(l1=l1)
        return loss

    def extra_state(self) -> dict[str, Any]:
        return {"jitter_rng": self.jitter_rng.get_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "jitter_rng" in state:
            self.jitter_rng.set_state(state["jitter_rng"].cpu())

    def snapshot_samples(self) -> Tensor:
        return translate(self.netG, self.fixed_input)


# ----------------------------------------------------------------------------- using G
@torch.no_grad()
def translate(netG: nn.Module, inputs: Tensor, batch_size: int = 256) -> Tensor:
    """G's outputs for ``inputs`` (N, C, H, W), in eval mode (batch-norm running statistics, no
    dropout), on the CPU. G's mode is restored afterwards."""
    was_training = netG.training
    netG.eval()
    device = next(netG.parameters()).device
    try:
        out = [netG(inputs[i:i + batch_size].to(device)).float().cpu()
               for i in range(0, len(inputs), batch_size)]
    finally:
        netG.train(was_training)
    return torch.cat(out)                                                     # (N, C_out, H, W)


def judge_accuracy(netG: nn.Module, inputs: Tensor, labels: Tensor, judge: Classifier) -> float:
    """Share of translations ``G(inputs)`` that the digits judge reads as ``labels`` (the class
    of the digit each input was made from): does the translation keep the class?"""
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    return accuracy(judge, translate(netG, inputs), labels)


LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpness(images: Tensor) -> Tensor:
    """Per-image sharpness (N,): the variance of the discrete Laplacian of the luminance,

        S(x) = Var_{i,j} (Δx)_{ij},   Δx_{ij} = x_{i-1,j} + x_{i+1,j} + x_{i,j-1} + x_{i,j+1} - 4 x_{ij},

    over interior pixels (no padding), in the images' own units ([-1, 1] in the course). The
    Laplacian is a high-pass filter: blur removes what it responds to, so a blurred image
    scores lower than the sharp original; a constant or linear ramp scores 0.
    """
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a tensor (N, 1 or 3, H, W), got "
                         f"{tuple(getattr(images, 'shape', ()))}")
    if min(images.shape[-2:]) < 3:
        raise ValueError(f"images must be at least 3x3 for a 3x3 Laplacian, got {tuple(images.shape[-2:])}")
    grey = luminance(images.detach().float().cpu())                          # (N, 1, H, W)
    lap = F.conv2d(grey, LAPLACIAN.view(1, 1, 3, 3))                          # (N, 1, H-2, W-2)
    return lap.flatten(1).var(dim=1, unbiased=False)                          # (N,)


# ----------------------------------------------------------------------------- receptive field
@dataclass(frozen=True)
class ReceptiveField:
    """Output cell (i, j) sees input rows ``start + i·stride`` … ``start + i·stride + size - 1``
    (columns likewise): ``size`` the side of its receptive field, ``stride`` the distance between
    neighbouring cells' fields (the product of the strides), ``start`` where cell 0's field
    begins (negative: it reaches into the padding)."""

    size: int
    stride: int
    start: int

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), inclusive, of cell (i, j)'s field in input pixels."""
        top, left = self.start + i * self.stride, self.start + j * self.stride
        return top, left, top + self.size - 1, left + self.size - 1


def _geometry(m: nn.Module) -> tuple[int, int, int, int] | None:
    """(kernel, stride, padding, dilation) of a layer that moves pixels, None for pointwise ones."""
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        raise ValueError(f"receptive_field handles down-sampling chains; {type(m).__name__} up-samples")
    if isinstance(m, nn.Conv2d):
        ks, st, pd, dl = m.kernel_size, m.stride, m.padding, m.dilation
        if isinstance(pd, str) or len({ks[0], ks[1]}) > 1 or len({st[0], st[1]}) > 1 or pd[0] != pd[1] \
                or dl[0] != dl[1]:
            raise ValueError(f"receptive_field needs square kernels, strides, paddings and dilations, "
                             f"got {m}")
        return ks[0], st[0], pd[0], dl[0]
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride, m.padding))
        d = getattr(m, "dilation", 1)
        return k, s, p, d if isinstance(d, int) else d[0]
    if isinstance(m, (nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d)):
        raise ValueError(f"receptive_field counts padding inside the convolutions; got {type(m).__name__}")
    return None


def receptive_field(net: nn.Module) -> ReceptiveField:
    """The receptive field of one output cell of a chain of convolutions, computed from the
    layers in the order :meth:`~torch.nn.Module.modules` lists them (the forward order of a
    ``Sequential`` chain). With jump :math:`j_0 = 1`, size :math:`r_0 = 1`, start
    :math:`s_0 = 0`, a layer with kernel k, stride s, padding p, dilation d gives

    .. math::  r_l = r_{l-1} + d\\,(k - 1)\\,j_{l-1}, \\quad j_l = s\\,j_{l-1}, \\quad
               s_l = s_{l-1} - p\\,j_{l-1}.

    Pointwise layers (activations, batch norm in eval mode, 1×1 convolutions add 0) leave it
    unchanged. Check it with :func:`receptive_field_by_gradient`.
    """
    size, jump, start = 1, 1, 0
    seen = False
    for m in net.modules():
        g = _geometry(m)
        if g is None:
            continue
        k, s, p, d = g
        size, start, jump = size + d * (k - 1) * jump, start - p * jump, jump * s
        seen = True
    if not seen:
        raise ValueError(f"{type(net).__name__} has no convolution or pooling layer")
    return ReceptiveField(size, jump, start)


def receptive_field_by_gradient(net: nn.Module, in_channels: int, image_size: int,
                                cell: tuple[int, int] | None = None,
                                seed: int = 0) -> dict[str, Any]:
    """Measure the receptive field: back-propagate from one output cell to a random input and
    find the pixels whose gradient is not zero.

    ``cell`` defaults to the centre of the score map. Runs ``net`` in eval mode (batch norm then
    acts per pixel; in training mode its batch statistics would mix every pixel into every
    output) and refuses instance normalisation, which mixes every position of a feature map
    into every output in either mode. Returns ``{"cell", "box" (top, left, bottom, right),
    "height", "width", "grad"}`` with ``grad`` the (H, W) gradient magnitude.
    """
    if any(isinstance(m, nn.InstanceNorm2d) for m in net.modules()):
        raise ValueError("instance normalisation mixes every position of a feature map into every "
                         "output, so one cell's gradient reaches the whole image; measure the same "
                         "layers with norm='batch' (eval mode) or norm='none'")
    was_training = net.training
    net.eval()
    try:
        device = next(net.parameters()).device
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(1, in_channels, image_size, image_size, generator=g).to(device).requires_grad_(True)
        out = net(x)                                                         # (1, 1, h, w)
        h, w = out.shape[-2:]
        i, j = cell if cell is not None else (h // 2, w // 2)
        if not (0 <= i < h and 0 <= j < w):
            raise ValueError(f"cell {(i, j)} lies outside the {h}x{w} score map")
        out[0, 0, i, j].backward()
        grad = x.grad[0].abs().sum(0).cpu()                                  # (H, W)
    finally:
        net.train(was_training)
    rows = torch.nonzero(grad.sum(1) > 0).flatten()
    cols = torch.nonzero(grad.sum(0) > 0).flatten()
    if len(rows) == 0:
        raise ValueError("the gradient is zero everywhere; is the network's output constant?")
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    return {"cell": (int(i), int(j)), "box": (top, left, bottom, right),
            "height": bottom - top + 1, "width": right - left + 1, "grad": grad}
