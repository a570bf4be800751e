"""U-Net generator for image-to-image translation (pix2pix; Ronneberger et al., 2015).

An encoder halves the resolution ``depth`` times, a decoder doubles it back, and **skip
connections** hand each encoder activation to the decoder layer of the same size::

    x ─ d1 ─ d2 ─ … ─ d_depth            d_i = Conv(k4, s2, p1) → norm → LeakyReLU(0.2)
        │    │          │
    y ─ u1 ─ u2 ─ … ─ u_depth            u_i = ConvT(k4, s2, p1) on [u_{i+1}, d_i] → norm → ReLU
                                          (u1 ends in tanh; the innermost ups may drop out)

Low-level structure that input and output share (where the edges are, the layout of a scene)
crosses through the skips instead of squeezing through the bottleneck. With ``skips=False``
the same layers form the plain encoder-decoder the pix2pix paper compares with.

Widths: encoder level i has ``ngf · min(2^i, max_mult)`` channels (pix2pix: 64, 128, 256, 512,
512, …). Normalisation is absent at the outermost encoder layer and at the bottleneck, as in
the reference code; dropout (the paper's only noise source) sits in the ``n_dropout`` innermost
decoder layers. The input size must be divisible by ``2^depth`` (28 = 7·2² takes depth ≤ 2,
32 takes ≤ 5, 256 the paper's 8).
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.models.init import dcgan_init

NORMS = ("batch", "instance", "none")


def norm2d(kind: str | None, channels: int) -> nn.Module:
    """The normalisation layer the translation models use: ``"batch"``, ``"instance"``
    (no affine parameters and no running statistics, as in the pix2pix/CycleGAN code) or
    ``"none"``/None."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind in ("none", None):
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid norms are {', '.join(NORMS)} or None")


def uses_bias(kind: str | None) -> bool:
    """Batch norm has its own shift, so the convolution before it needs no bias."""
    return kind != "batch"


class UNetGenerator(nn.Module):
    """G: image (B, in_channels, H, W) -> image (B, out_channels, H, W) in [-1, 1].

    Args:
        in_channels, out_channels: channels of input and output images.
        ngf: width of the outermost encoder layer.
        depth: number of down-samplings (pix2pix uses 8 for 256 px: the bottleneck is 1×1).
        image_size: when given, checked to be divisible by 2^depth (any divisible size runs).
        max_mult: widths stop growing at ``ngf · max_mult``.
        norm: ``"batch"`` (pix2pix), ``"instance"`` or ``"none"``.
        dropout: dropout probability in the innermost decoder layers (0 switches it off).
        n_dropout: how many decoder layers, from the innermost, get dropout (pix2pix: 3).
        skips: False gives the encoder-decoder without skip connections.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, depth: int = 8,
                 image_size: int | None = None, max_mult: int = 8, norm: str | None = "batch",
                 dropout: float = 0.5, n_dropout: int = 3, skips: bool = True):
        super().__init__()
        if min(in_channels, out_channels, ngf, depth, max_mult) < 1:
            raise ValueError(f"in_channels, out_channels, ngf, depth and max_mult must be >= 1, got "
                             f"{in_channels}, {out_channels}, {ngf}, {depth}, {max_mult}")
        if image_size is not None and image_size % 2 ** depth:
            raise ValueError(f"image_size={image_size} is not divisible by 2^depth = {2 ** depth}; "
                             f"use depth <= {_max_depth(image_size)} for this size")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.kwargs = dict(in_channels=in_channels, out_channels=out_channels, ngf=ngf, depth=depth,
                           image_size=image_size, max_mult=max_mult, norm=norm, dropout=dropout,
                           n_dropout=n_dropout, skips=skips)
        self.depth, self.skips = depth, skips
        widths = [ngf * min(2 ** i, max_mult) for i in range(depth)]      # encoder output widths
        self.widths = widths
        self.down = nn.ModuleList()
        c_in = in_channels
        for i, w in enumerate(widths):                                  # (B, c_in, S, S) -> (B, w, S/2, S/2)
            plain = i == 0 or i == depth - 1                            # outermost and bottleneck: no norm
            layers: list[nn.Module] = [nn.Conv2d(c_in, w, 4, 2, 1, bias=plain or uses_bias(norm))]
            if not plain:
                layers.append(norm2d(norm, w))
            layers.append(nn.LeakyReLU(0.2, inplace=True) if i < depth - 1 else nn.ReLU(inplace=True))
            self.down.append(nn.Sequential(*layers))
            c_in = w
        self.up = nn.ModuleList()                                       # innermost first
        for k, i in enumerate(reversed(range(depth))):
            c_in = widths[i] * (2 if (skips and i < depth - 1) else 1)
            if i == 0:                                                  # outermost: to the image
                self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=uses_bias(norm)),
                      norm2d(norm, widths[i - 1])]
            if dropout > 0 and k < n_dropout:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU(inplace=True))
            self.up.append(nn.Sequential(*layers))
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 ** self.depth or x.shape[-2] % 2 ** self.depth:
            raise ValueError(f"input size {tuple(x.shape[-2:])} is not divisible by 2^depth = "
                             f"{2 ** self.depth}")
        feats = []
        h = x
        for down in self.down:                                          # (B, w_i, S / 2^(i+1), ...)
            h = down(h)
            feats.append(h)
        for k, up in enumerate(self.up):
            i = self.depth - 1 - k                                      # encoder level of this size
            if self.skips and i < self.depth - 1:
                h = torch.cat([h, feats[i]], dim=1)                     # (B, 2 w_i, S_i, S_i)
            h = up(h)
        return h                                                        # (B, out_channels, H, W)


def _max_depth(image_size: int) -> int:
    d = 0
    while image_size % 2 ** (d + 1) == 0:
        d += 1
    return d
