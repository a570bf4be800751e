"""DCGAN generator and discriminator for 28, 32 and 64 pixel images.

The architecture rules of Radford et al. (2016), each visible below:

1. no pooling: the discriminator downsamples with strided convolutions, the generator
   upsamples with fractionally strided (transposed) convolutions;
2. batch norm in both networks, except the generator's output and the discriminator's
   input layers;
3. no fully connected hidden layers: z is reshaped to a (z_dim, 1, 1) "image";
4. ReLU in the generator with a ``tanh`` output, LeakyReLU(0.2) in the discriminator;
5. weights initialised from N(0, 0.02²) (:func:`gancourse.models.init.dcgan_init`).

Resolutions: 64 = 4·2⁴ and 32 = 4·2³ double from a 4×4 seed; 28 = 7·2² doubles from 7×7.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.data.images import check_image_size
from gancourse.models.init import dcgan_init

NORMS = ("batch", "layer", "instance", None)


def _plan(image_size: int) -> tuple[int, int]:
    """(seed resolution, number of doublings) that reach ``image_size``."""
    check_image_size(image_size)
    return {28: (7, 2), 32: (4, 3), 64: (4, 4)}[image_size]


def _norm(kind: str | None, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample norm over (C, H, W): safe with gradient penalties
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind is None:
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid norms are batch, layer, instance or None")


class DCGANGenerator(nn.Module):
    """G: z (B, z_dim) -> image (B, channels, image_size, image_size) in [-1, 1]."""

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 28, ngf: int = 64):
        super().__init__()
        self.z_dim, self.channels, self.image_size = z_dim, channels, image_size
        seed, doublings = _plan(image_size)
        width = ngf * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, width, seed, 1, 0, bias=False),   # (B, width, seed, seed)
            nn.BatchNorm2d(width), nn.ReLU(True),
        ]
        for _ in range(doublings - 1):                                   # H -> 2H, C -> C/2
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]  # last doubling
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))           # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """D: image (B, channels, image_size, image_size) -> score (B,), a raw logit.

    ``norm="batch"`` is the DCGAN original; use ``"layer"`` or ``None`` for critics
    with a gradient penalty (batch norm mixes samples, so per-sample gradients lose
    their meaning).
    """

    def __init__(self, channels: int = 1, image_size: int = 28, ndf: int = 64,
                 norm: str | None = "batch"):
        super().__init__()
        self.channels, self.image_size = channels, image_size
        seed, doublings = _plan(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = ndf                                                      # no norm on the input layer
        for _ in range(doublings - 1):                                   # H -> H/2, C -> 2C
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm is None),
                       _norm(norm, width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        self.features = nn.Sequential(*layers)                           # (B, width, seed, seed)
        self.head = nn.Conv2d(width, 1, seed, 1, 0)                      # (B, 1, 1, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"discriminator expects images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x)).flatten()                     # (B,)
