"""ResNet generator for image-to-image translation (Johnson et al., 2016; CycleGAN, StarGAN).

Down-sample, transform at low resolution with residual blocks, up-sample::

    c7s1-ngf → d2ngf → d4ngf → R4ngf × n_blocks → u2ngf → ungf → c7s1-out → tanh

(CycleGAN's notation: c7s1-k a 7×7 stride-1 convolution with k filters, norm and ReLU; dk a 3×3
stride-2 convolution; Rk a residual block of two 3×3 convolutions, x + F(x); uk a 3×3
fractionally strided convolution with stride ½.) Reflection padding keeps borders free of the
dark frame that zero padding draws. Each residual block starts as a small change of its input,
so a translation that keeps most of the image (the content) and changes its style is easy to
represent. CycleGAN uses 6 blocks at 128 px and 9 at 256 px, instance norm, ngf = 64.

The input size must be divisible by ``2^n_down`` (28 = 7·2² works with the default 2).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.models.init import dcgan_init
from gancourse.models.unet import norm2d, uses_bias

PADDINGS = ("reflect", "zeros")


def _pad(kind: str, p: int) -> tuple[list[nn.Module], int]:
    """(explicit padding layers, padding to give the convolution)."""
    if kind == "reflect":
        return [nn.ReflectionPad2d(p)], 0
    return [], p


class ResnetBlock(nn.Module):
    """x + F(x), F = pad → conv3 → norm → ReLU → (dropout) → pad → conv3 → norm; (B, C, H, W) kept."""

    def __init__(self, channels: int, norm: str | None = "instance", padding: str = "reflect",
                 dropout: float = 0.0):
        super().__init__()
        bias = uses_bias(norm)
        pad1, p = _pad(padding, 1)
        pad2, _ = _pad(padding, 1)
        layers = [*pad1, nn.Conv2d(channels, channels, 3, padding=p, bias=bias), norm2d(norm, channels),
                  nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*pad2, nn.Conv2d(channels, channels, 3, padding=p, bias=bias), norm2d(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """G: image (B, in_channels, H, W) -> image (B, out_channels, H, W) in [-1, 1].

    Args:
        in_channels, out_channels: channels of input and output (StarGAN adds the target domain's
            one-hot maps to ``in_channels``).
        ngf: width after the first 7×7 convolution; doubled at each down-sampling.
        n_down: number of stride-2 down-samplings (and of up-samplings).
        n_blocks: residual blocks at the lowest resolution (CycleGAN: 6 at 128 px, 9 at 256 px).
        norm: ``"instance"`` (CycleGAN), ``"batch"`` or ``"none"``.
        padding: ``"reflect"`` (CycleGAN) or ``"zeros"``.
        image_size: when given, checked to be divisible by 2^n_down.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_down: int = 2,
                 n_blocks: int = 9, norm: str | None = "instance", padding: str = "reflect",
                 dropout: float = 0.0, image_size: int | None = None):
        super().__init__()
        if min(in_channels, out_channels, ngf) < 1 or n_down < 0 or n_blocks < 0:
            raise ValueError(f"need in_channels, out_channels, ngf >= 1 and n_down, n_blocks >= 0, got "
                             f"{in_channels}, {out_channels}, {ngf}, {n_down}, {n_blocks}")
        if padding not in PADDINGS:
            raise ValueError(f"unknown padding {padding!r}; valid: {', '.join(PADDINGS)}")
        if image_size is not None and image_size % 2 ** n_down:
            raise ValueError(f"image_size={image_size} is not divisible by 2^n_down = {2 ** n_down}")
        self.kwargs = dict(in_channels=in_channels, out_channels=out_channels, ngf=ngf, n_down=n_down,
                           n_blocks=n_blocks, norm=norm, padding=padding, dropout=dropout,
                           image_size=image_size)
        self.n_down = n_down
        bias = uses_bias(norm)
        pad, p = _pad(padding, 3)
        layers: list[nn.Module] = [*pad, nn.Conv2d(in_channels, ngf, 7, padding=p, bias=bias),
                                   norm2d(norm, ngf), nn.ReLU(True)]            # c7s1-ngf, (B, ngf, H, W)
        c = ngf
        for _ in range(n_down):                                                  # dk: H -> H/2, C -> 2C
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm2d(norm, 2 * c),
                       nn.ReLU(True)]
            c *= 2
        layers += [ResnetBlock(c, norm, padding, dropout) for _ in range(n_blocks)]   # Rk, size kept
        for _ in range(n_down):                                                  # uk: H -> 2H, C -> C/2
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       norm2d(norm, c // 2), nn.ReLU(True)]
            c //= 2
        pad, p = _pad(padding, 3)
        layers += [*pad, nn.Conv2d(c, out_channels, 7, padding=p), nn.Tanh()]    # c7s1-out
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 ** self.n_down or x.shape[-2] % 2 ** self.n_down:
            raise ValueError(f"input size {tuple(x.shape[-2:])} is not divisible by 2^n_down = "
                             f"{2 ** self.n_down}")
        return self.net(x)                                                       # (B, out, H, W)
