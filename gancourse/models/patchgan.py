"""PatchGAN discriminator (pix2pix, CycleGAN, StarGAN): a fully convolutional classifier of
image *patches*.

Instead of one score per image, D outputs a map of scores, one per overlapping patch; the
adversarial loss averages over the map. Each score sees only its receptive field, so D judges
local texture and sharpness (the L1 term of pix2pix takes care of the low frequencies)::

    C_ndf(s2, no norm) → C_2ndf(s2) → … → C(s1) → 1-channel conv(s1)

with ``n_layers`` stride-2 convolutions, all 4×4 with padding 1, LeakyReLU(0.2). The receptive
field of one output cell is 16, 34 and 70 px for ``n_layers`` = 1, 2, 3 (the paper's "70×70
PatchGAN"); ``n_layers=0`` is the paper's PixelGAN (1×1 convolutions, receptive field 1).
``gancourse.gans.pix2pix.receptive_field`` computes it from the layers; the pix2pix lesson
checks it by back-propagating from one output cell.

The input is whatever D should judge: an image, or for pix2pix's conditional D an (input,
output) pair stacked along channels (``in_channels`` = both counts added).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.models.init import dcgan_init
from gancourse.models.unet import norm2d, uses_bias


class PatchGANDiscriminator(nn.Module):
    """D: image (B, in_channels, H, W) -> patch scores (B, 1, h, w) (raw, no sigmoid).

    Args:
        in_channels: channels of what D sees (pix2pix: input + output channels).
        ndf: width of the first layer; later layers double it up to ``ndf · max_mult``.
        n_layers: stride-2 convolutions (receptive field 16, 34, 70 px for 1, 2, 3; 0 = PixelGAN).
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3,
                 norm: str | None = "batch", max_mult: int = 8):
        super().__init__()
        if in_channels < 1 or ndf < 1 or n_layers < 0 or max_mult < 1:
            raise ValueError(f"need in_channels >= 1, ndf >= 1, n_layers >= 0 and max_mult >= 1, got "
                             f"{in_channels}, {ndf}, {n_layers}, {max_mult}")
        self.kwargs = dict(in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm,
                           max_mult=max_mult)
        self.n_layers = n_layers
        bias = uses_bias(norm)
        if n_layers == 0:                                        # PixelGAN: every pixel on its own
            layers: list[nn.Module] = [
                nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), norm2d(norm, 2 * ndf), nn.LeakyReLU(0.2, True),
                nn.Conv2d(2 * ndf, 1, 1)]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]   # (B, ndf, H/2, W/2)
            mult = 1
            for n in range(1, n_layers + 1):            # n_layers - 1 more stride-2, then one stride-1
                prev, mult = mult, min(2 ** n, max_mult)
                stride = 2 if n < n_layers else 1
                layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
                           norm2d(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))  # one score per patch
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)                                       # (B, 1, h, w)

    def output_size(self, image_size: int) -> int:
        """Side of the score map for a square input of side ``image_size``."""
        if self.n_layers == 0:
            return image_size
        s = image_size
        for m in self.net:
            if isinstance(m, nn.Conv2d):
                k, st, p = m.kernel_size[0], m.stride[0], m.padding[0]
                s = (s + 2 * p - k) // st + 1
        if s < 1:
            raise ValueError(f"a {image_size} px input is too small for n_layers={self.n_layers}")
        return s
