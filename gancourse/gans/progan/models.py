"""ProGAN's growing generator and discriminator (Karras et al., 2018, sec. 2 and Table 2).

Both networks hold one block per resolution 4, 8, ..., ``max_resolution`` and run only the
blocks up to the current resolution r. While r is being faded in, the new block is blended with
the old path by α ∈ [0, 1] (sec. 2, Figure 2):

    G:  out = (1 − α) · up(toRGB_{r/2}(h_{r/2})) + α · toRGB_r(block_r(h_{r/2}))
    D:  h   = (1 − α) · fromRGB_{r/2}(down(x)) + α · block_r(fromRGB_r(x))

with ``up`` nearest-neighbour doubling and ``down`` 2×2 average pooling. At α = 0 the grown
networks compute exactly what the smaller ones did; at α = 1 the old path is gone.

G: z -> pixel norm -> linear to 4×4 -> conv 3×3 (-> [up, conv 3×3, conv 3×3] per doubling),
each conv followed by LeakyReLU(0.2) and pixel norm; toRGB is a 1×1 conv. D mirrors it with
fromRGB 1×1 convs and [conv 3×3, conv 3×3, avg-pool] blocks, and ends at 4×4 with minibatch
standard deviation, conv 3×3, conv 4×4 and a linear score. Every weighted layer uses the
equalised learning rate. Widths: channels(r) = min(fmap_max, fmap_base // r).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.collapse import MinibatchStdDev
from gancourse.gans.progan.layers import LEAKY_GAIN, EqualizedConv2d, EqualizedLinear, PixelNorm

Tensor = torch.Tensor
OUT_ACTIVATIONS = ("tanh", None)
LEAKY_GAIN_4 = LEAKY_GAIN / 4      # G's input layer (z -> 4x4 maps): gain sqrt(2)/4, as in the paper


def resolutions(max_resolution: int) -> list[int]:
    """4, 8, ..., max_resolution (a power of two >= 4)."""
    if max_resolution < 4 or max_resolution & (max_resolution - 1):
        raise ValueError(f"max_resolution must be a power of two >= 4 (4, 8, 16, 32, 64, ...), "
                         f"got {max_resolution}")
    return [4 * 2 ** i for i in range(max_resolution.bit_length() - 2)]


def channels_at(resolution: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps at ``resolution``: min(fmap_max, fmap_base // resolution), at least 1."""
    return max(1, min(fmap_max, fmap_base // resolution))


class _Growing(nn.Module):
    """The phase (current resolution, fade-in α) shared by both networks."""

    def __init__(self, max_resolution: int):
        super().__init__()
        self.resolutions = resolutions(max_resolution)
        self.max_resolution = max_resolution
        self.resolution, self.alpha = self.resolutions[-1], 1.0

    def set_phase(self, resolution: int, alpha: float = 1.0) -> None:
        """Run the blocks up to ``resolution``, the newest blended in with weight ``alpha``."""
        if resolution not in self.resolutions:
            raise ValueError(f"resolution {resolution} is not one of this network's "
                             f"{self.resolutions}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if resolution == self.resolutions[0] and alpha != 1.0:
            raise ValueError(f"the first resolution ({resolution}) has nothing to fade in from; "
                             f"alpha must be 1")
        self.resolution, self.alpha = int(resolution), float(alpha)

    @property
    def level(self) -> int:
        """Index of the current resolution (0 for 4×4)."""
        return self.resolutions.index(self.resolution)


def _conv_act(c_in: int, c_out: int, norm: bool, equalized: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [EqualizedConv2d(c_in, c_out, 3, padding=1, equalized=equalized),
                               nn.LeakyReLU(0.2)]
    return layers + ([PixelNorm()] if norm else [])


class ProGenerator(_Growing):
    """G: z (B, z_dim) -> image (B, channels, r, r) at the current resolution r."""

    def __init__(self, z_dim: int = 128, channels: int = 1, max_resolution: int = 32,
                 fmap_base: int = 2048, fmap_max: int = 128, convs_per_block: int = 2,
                 pixel_norm: bool = True, equalized: bool = True,
                 out_activation: str | None = "tanh"):
        super().__init__(max_resolution)
        if convs_per_block not in (1, 2):
            raise ValueError(f"convs_per_block must be 1 or 2 (the paper uses 2), got {convs_per_block}")
        if out_activation not in OUT_ACTIVATIONS:
            raise ValueError(f"out_activation must be one of {OUT_ACTIVATIONS}, got {out_activation!r}")
        self.z_dim, self.channels, self.out_activation = z_dim, channels, out_activation
        ch = [channels_at(r, fmap_base, fmap_max) for r in self.resolutions]
        norm = (lambda: PixelNorm()) if pixel_norm else (lambda: nn.Identity())
        self.input_norm = norm()
        self.dense = EqualizedLinear(z_dim, ch[0] * 16, gain=LEAKY_GAIN_4, equalized=equalized)
        self.first = nn.Sequential(nn.LeakyReLU(0.2), norm(),
                                   *(_conv_act(ch[0], ch[0], pixel_norm, equalized)
                                     if convs_per_block == 2 else []))
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip(ch[:-1], ch[1:]):
            layers = [nn.Upsample(scale_factor=2, mode="nearest"),
                      *_conv_act(c_in, c_out, pixel_norm, equalized)]
            if convs_per_block == 2:
                layers += _conv_act(c_out, c_out, pixel_norm, equalized)
            self.blocks.append(nn.Sequential(*layers))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, channels, 1, gain=1.0, equalized=equalized)
                                    for c in ch)
        self.widths = ch

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"generator expects z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        h = self.dense(self.input_norm(z)).view(len(z), self.widths[0], 4, 4)    # (B, C_4, 4, 4)
        h = self.first(h)
        prev = h
        for block in self.blocks[:self.level]:                                  # 4 -> 8 -> ... -> r
            prev, h = h, block(h)                                               # (B, C_r, r, r)
        out = self.to_rgb[self.level](h)                                        # (B, channels, r, r)
        if self.alpha < 1.0:
            skip = F.interpolate(self.to_rgb[self.level - 1](prev), scale_factor=2, mode="nearest")
            out = torch.lerp(skip, out, self.alpha)                             # (1-α) skip + α new
        return torch.tanh(out) if self.out_activation == "tanh" else out


class ProDiscriminator(_Growing):
    """D: image (B, channels, r, r) at the current resolution r -> raw score (B,)."""

    def __init__(self, channels: int = 1, max_resolution: int = 32, fmap_base: int = 2048,
                 fmap_max: int = 128, convs_per_block: int = 2, mbstd_group: int | None = 4,
                 equalized: bool = True):
        super().__init__(max_resolution)
        if convs_per_block not in (1, 2):
            raise ValueError(f"convs_per_block must be 1 or 2 (the paper uses 2), got {convs_per_block}")
        self.channels = channels
        ch = [channels_at(r, fmap_base, fmap_max) for r in self.resolutions]
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(channels, c, 1, equalized=equalized), nn.LeakyReLU(0.2))
            for c in ch)
        self.blocks = nn.ModuleList()                     # blocks[i]: resolution i+1 -> i
        for c_low, c_high in zip(ch[:-1], ch[1:]):
            layers: list[nn.Module] = []
            if convs_per_block == 2:
                layers += _conv_act(c_high, c_high, False, equalized)
            layers += [*_conv_act(c_high, c_low, False, equalized), nn.AvgPool2d(2)]
            self.blocks.append(nn.Sequential(*layers))
        self.mbstd = MinibatchStdDev(mbstd_group) if mbstd_group else None
        c4 = ch[0] + (1 if self.mbstd is not None else 0)
        self.final = nn.Sequential(*_conv_act(c4, ch[0], False, equalized),
                                   EqualizedConv2d(ch[0], ch[0], 4, equalized=equalized),  # (B, C, 1, 1)
                                   nn.LeakyReLU(0.2), nn.Flatten(),
                                   EqualizedLinear(ch[0], 1, gain=1.0, equalized=equalized))
        self.widths = ch

    def forward(self, x: Tensor) -> Tensor:
        r = self.resolution
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, r, r):
            raise ValueError(f"discriminator at resolution {r} expects images (B, {self.channels}, "
                             f"{r}, {r}), got {tuple(x.shape)}")
        k = self.level
        h = self.from_rgb[k](x)                                                 # (B, C_r, r, r)
        if k > 0:
            h = self.blocks[k - 1](h)                                           # (B, C_r/2, r/2, r/2)
            if self.alpha < 1.0:
                skip = self.from_rgb[k - 1](F.avg_pool2d(x, 2))
                h = torch.lerp(skip, h, self.alpha)
            for block in reversed(self.blocks[:k - 1]):
                h = block(h)                                                    # ... -> (B, C_4, 4, 4)
        if self.mbstd is not None:
            h = self.mbstd(h)                                                   # (B, C_4 + 1, 4, 4)
        return self.final(h).squeeze(1)                                         # (B,)

