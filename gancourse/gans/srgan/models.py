"""Super-resolution networks: SRResNet / SRGAN's generator and discriminator, ESRGAN's RRDB net.

**SRResNet** (Ledig et al., 2017, Figure 4): a 9×9 conv, B residual blocks
[conv 3×3, BN, PReLU, conv 3×3, BN] + skip, a conv + BN with a long skip over all blocks, then
log2(s) sub-pixel upsampling steps [conv 3×3 to 4C channels, pixel shuffle ×2, PReLU] and a 9×9
conv to the image. **Pixel shuffle** (Shi et al., 2016) rearranges channels into space,

    (B, C·r², H, W) -> (B, C, r·H, r·W),   out[b, c, r·h + i, r·w + j] = in[b, c·r² + r·i + j, h, w],

so every convolution runs at low resolution and the network learns its own upsampling filters.

**SRGAN's discriminator**: conv blocks (3×3, LeakyReLU 0.2, BN) whose stride alternates 1 and 2
while the width doubles, then dense layers to one raw score.

**ESRGAN** (Wang et al., 2018) changes the generator: no batch norm anywhere (BN's batch
statistics differ between training patches and test images and leave artefacts), and the
basic block becomes the *residual-in-residual dense block* (RRDB): three dense blocks, each

    x_{k} = LReLU(conv_k([x_0, x_1, ..., x_{k-1}])),  k = 1..4;  DB(x_0) = x_0 + β · conv_5([x_0, ..., x_4]),

and RRDB(x) = x + β · DB(DB(DB(x))), with *residual scaling* β = 0.2 so that each block starts
near the identity and a deep stack trains stably.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor
NORMS = ("batch", None)


def _check_scale(scale: int) -> int:
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"scale must be a power of two >= 2 (2, 4, 8), got {scale}")
    return int(math.log2(scale))


def _check_image(x: Tensor, channels: int, who: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{who} expects images (B, {channels}, H, W), got {tuple(x.shape)}")


def _bn(norm: str | None, c: int) -> nn.Module:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return nn.BatchNorm2d(c) if norm == "batch" else nn.Identity()


# ----------------------------------------------------------------------------- SRResNet
class ResidualBlock(nn.Module):
    """x + BN(conv(PReLU(BN(conv(x))))): (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, width: int, norm: str | None = "batch"):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _bn(norm, width),
                                  nn.PReLU(width), nn.Conv2d(width, width, 3, padding=1),
                                  _bn(norm, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SubPixelUpsample(nn.Module):
    """×2 upsampling: conv 3×3 to 4·c_out channels, pixel shuffle, PReLU:
    (B, c_in, H, W) -> (B, c_out, 2H, 2W); ``c_out`` defaults to ``c_in``."""

    def __init__(self, c_in: int, c_out: int | None = None):
        super().__init__()
        c_out = c_in if c_out is None else c_out
        self.conv = nn.Conv2d(c_in, c_out * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(c_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))                       # (B, c_out, 2H, 2W)


def _bicubic_up(x: Tensor, scale: int) -> Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


class SRResNet(nn.Module):
    """SRResNet (the SRGAN generator): LR (B, C, h, w) in [-1, 1] -> SR (B, C, s·h, s·w).

    ``width`` 64 and ``n_blocks`` 16 in the paper; ``norm=None`` drops batch norm (ESRGAN's
    advice); ``kernel`` is the size of the first and last convolutions (9 in the paper);
    ``up_width`` the channels of the upsampling steps (default ``width``; fewer make the
    high-resolution layers cheaper). With ``bicubic_skip`` the network predicts a residual over
    the bicubic upscale, SR = bicubic(LR) + G(LR) (global residual learning, as in VDSR, Kim et
    al., 2016): it starts at the baseline and only has to learn the missing detail, which short
    runs need. The output is linear (clamp to [-1, 1] to view it).
    """

    def __init__(self, channels: int = 3, width: int = 64, n_blocks: int = 16, scale: int = 4,
                 norm: str | None = "batch", kernel: int = 9, up_width: int | None = None,
                 bicubic_skip: bool = False):
        super().__init__()
        n_up = _check_scale(scale)
        if n_blocks < 1 or width < 1 or kernel % 2 == 0:
            raise ValueError(f"need n_blocks >= 1, width >= 1 and an odd kernel, got {n_blocks}, "
                             f"{width}, {kernel}")
        up_width = width if up_width is None else up_width
        self.channels, self.scale, self.bicubic_skip = channels, scale, bicubic_skip
        self.head = nn.Sequential(nn.Conv2d(channels, width, kernel, padding=kernel // 2),
                                  nn.PReLU(width))
        self.body = nn.Sequential(*(ResidualBlock(width, norm) for _ in range(n_blocks)),
                                  nn.Conv2d(width, width, 3, padding=1), _bn(norm, width))
        self.upsample = nn.Sequential(*(SubPixelUpsample(width if i == 0 else up_width, up_width)
                                        for i in range(n_up)))
        self.tail = nn.Conv2d(up_width, channels, kernel, padding=kernel // 2)
        if bicubic_skip:                                   # start close to the bicubic baseline
            with torch.no_grad():
                self.tail.weight.mul_(0.1)
                self.tail.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, self.channels, "SRResNet")
        h = self.head(x)                                                  # (B, W, h, w)
        h = h + self.body(h)                                              # long skip
        out = self.tail(self.upsample(h))                                 # (B, C, s·h, s·w)
        return out + _bicubic_up(x, self.scale) if self.bicubic_skip else out


# ----------------------------------------------------------------------------- ESRGAN
class DenseBlock(nn.Module):
    """ESRGAN's residual dense block: five 3×3 convs on the concatenation of all earlier
    outputs (growth ``growth`` channels), output x + β · conv_5(...): (B, C, H, W) -> same."""

    def __init__(self, width: int, growth: int = 32, beta: float = 0.2):
        super().__init__()
        self.beta = beta
        self.convs = nn.ModuleList(nn.Conv2d(width + k * growth, growth if k < 4 else width, 3,
                                             padding=1) for k in range(5))

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))     # (B, growth, H, W)
        return x + self.beta * self.convs[4](torch.cat(feats, 1))         # residual scaling β


class RRDB(nn.Module):
    """Residual-in-residual dense block: x + β · DB₃(DB₂(DB₁(x))), no batch norm."""

    def __init__(self, width: int, growth: int = 32, beta: float = 0.2):
        super().__init__()
        if not 0 <= beta <= 1:
            raise ValueError(f"the residual scaling beta must lie in [0, 1], got {beta}")
        self.beta = beta
        self.blocks = nn.Sequential(*(DenseBlock(width, growth, beta) for _ in range(3)))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.beta * self.blocks(x)


class RRDBNet(nn.Module):
    """ESRGAN's generator: conv, ``n_blocks`` RRDBs + conv with a long skip, ×2 upsampling steps
    (nearest neighbour + conv + LReLU, as in ESRGAN), two convs. No batch norm.
    LR (B, C, h, w) -> SR (B, C, s·h, s·w); ``bicubic_skip`` as in :class:`SRResNet`."""

    def __init__(self, channels: int = 3, width: int = 64, n_blocks: int = 23, growth: int = 32,
                 scale: int = 4, beta: float = 0.2, bicubic_skip: bool = False):
        super().__init__()
        n_up = _check_scale(scale)
        if n_blocks < 1 or width < 1 or growth < 1:
            raise ValueError(f"need n_blocks, width and growth >= 1, got {n_blocks}, {width}, {growth}")
        self.channels, self.scale, self.bicubic_skip = channels, scale, bicubic_skip
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(width, growth, beta) for _ in range(n_blocks)),
                                  nn.Conv2d(width, width, 3, padding=1))
        self.up_convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(n_up))
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, channels, 3, padding=1))
        if bicubic_skip:
            with torch.no_grad():
                self.tail[-1].weight.mul_(0.1)
                self.tail[-1].bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, self.channels, "RRDBNet")
        h = self.head(x)                                                  # (B, W, h, w)
        h = h + self.body(h)
        for conv in self.up_convs:
            h = F.leaky_relu(conv(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
        out = self.tail(h)                                                # (B, C, s·h, s·w)
        return out + _bicubic_up(x, self.scale) if self.bicubic_skip else out


# ----------------------------------------------------------------------------- discriminator
class SRDiscriminator(nn.Module):
    """SRGAN's D: HR image (B, C, H, W) -> raw score (B,).

    Per width w in ``widths``: conv 3×3 stride 1 and conv 3×3 stride 2 (the first conv of the
    network has no BN), each with LeakyReLU(0.2); then global average pooling (so any H, W that
    survive the halvings work; the paper flattens a fixed 6×6 map), dense ``hidden``, LReLU,
    dense 1.
    """

    def __init__(self, channels: int = 3, widths: tuple[int, ...] = (64, 128, 256, 512),
                 hidden: int = 1024, norm: str | None = "batch"):
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one stage, e.g. (64, 128, 256, 512)")
        self.channels = channels
        layers: list[nn.Module] = []
        c_in = channels
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c_in, w, 3, 1, 1), *([] if i == 0 else [_bn(norm, w)]), nn.LeakyReLU(0.2),
                       nn.Conv2d(w, w, 3, 2, 1), _bn(norm, w), nn.LeakyReLU(0.2)]
            c_in = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, hidden),
                                  nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, self.channels, "SRDiscriminator")
        return self.head(self.features(x)).squeeze(1)                     # (B,)
