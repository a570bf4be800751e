"""ProGAN's layers: pixel-wise feature normalisation and the equalised learning rate.

**Pixel norm** (Karras et al., 2018, sec. 4.2). After every convolution of the generator, the
feature vector a_{x,y} (C channels) of each pixel is scaled to unit average square,

    b_{x,y} = a_{x,y} / sqrt( (1/C) Σ_j (a^j_{x,y})² + ε ),      ε = 1e-8,

which keeps the magnitudes of G's and D's signals from escalating (no learned parameters, and,
unlike batch norm, no mixing of samples).

**Equalised learning rate** (sec. 4.1). A layer with fan-in n (inputs × kernel area) stores
weights ŵ ~ N(0, 1) and uses w = c · ŵ at run time, c = gain / sqrt(n) (He's constant,
gain = sqrt(2) before a leaky ReLU). At initialisation this is He's initialisation. The point is
the *update*: adaptive optimisers (Adam, RMSProp) normalise each gradient by its own running
scale, so one step moves every stored parameter by about the learning rate η whatever the layer,
and a layer whose weights are c in size changes by η / c relative to its size. With w = c · ŵ
every layer's step, measured in units of its own weight scale c, is η: the same speed for
every layer.
:func:`effective_step_sizes` measures that.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor
LEAKY_GAIN = math.sqrt(2)          # He's gain, used before LeakyReLU(0.2) as in the paper


class PixelNorm(nn.Module):
    """b = a / sqrt(mean_c a² + ε) at every pixel: (B, C, H, W) or (B, C) -> the same shape."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"pixel norm needs features (B, C, ...), got shape {tuple(x.shape)}")
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


class _Scaled(nn.Module):
    """Common part of the equalised layers: stored weight ŵ, run-time scale c, bias.

    ``equalized=True``: ŵ ~ N(0, 1), w = c · ŵ (the paper). ``equalized=False``: the ordinary
    parametrisation with the same starting weights, ŵ = c · N(0, 1) and w = ŵ (He init), for
    comparison.
    """

    def __init__(self, shape: tuple[int, ...], fan_in: int, gain: float, bias: bool,
                 equalized: bool):
        super().__init__()
        if fan_in < 1:
            raise ValueError(f"fan-in must be >= 1, got {fan_in}")
        he = gain / math.sqrt(fan_in)
        self.equalized = bool(equalized)
        self.scale = he if equalized else 1.0
        self.weight = nn.Parameter(torch.randn(shape) * (1.0 if equalized else he))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        self.fan_in, self.gain = fan_in, gain

    def effective_weight(self) -> Tensor:
        """w = c · ŵ, the weight the layer applies."""
        return self.weight * self.scale


class EqualizedLinear(_Scaled):
    """Linear layer with the equalised learning rate: y = (c · ŵ) x + b, c = gain / sqrt(in)."""

    def __init__(self, in_features: int, out_features: int, gain: float = LEAKY_GAIN,
                 bias: bool = True, equalized: bool = True):
        super().__init__((out_features, in_features), in_features, gain, bias, equalized)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.effective_weight(), self.bias)                  # (B, out)


class EqualizedConv2d(_Scaled):
    """Conv layer with the equalised learning rate, c = gain / sqrt(in_channels · k²)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 gain: float = LEAKY_GAIN, bias: bool = True, equalized: bool = True):
        super().__init__((out_channels, in_channels, kernel_size, kernel_size),
                         in_channels * kernel_size ** 2, gain, bias, equalized)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding = kernel_size, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)  # (B, out, H', W')


def scaled_layers(net: nn.Module) -> dict[str, _Scaled]:
    """The equalised (or ordinary, for comparison) layers of ``net`` by name, in order."""
    return {name: m for name, m in net.named_modules() if isinstance(m, _Scaled)}


def effective_step_sizes(net: nn.Module, loss_fn: Callable[[nn.Module], Tensor], lr: float = 1e-3,
                         steps: int = 1, betas: tuple[float, float] = (0.0, 0.99)) -> dict[str, float]:
    """The step each layer's *applied* weights make, relative to the layer's weight scale.

    For every equalised layer: RMS(w_after − w_before) / c, with w = c · ŵ the applied weight and
    c = gain / sqrt(fan_in) its He scale (the size its weights have at initialisation), after
    minimising ``loss_fn(net)`` with Adam (learning rate ``lr``, the paper's betas (0, 0.99)) on a
    copy of ``net`` (``net`` itself is untouched). Adam's first step moves each stored weight by
    lr · sign(g), so with the equalised learning rate every layer gets exactly ``lr``; with the
    ordinary parametrisation (ŵ = w) it gets lr / c: layers with a large fan-in move faster,
    relative to their size. Layers that get no gradient from ``loss_fn`` (e.g. blocks above the
    current resolution) are left out.
    """
    if lr <= 0 or steps < 1:
        raise ValueError(f"need lr > 0 and steps >= 1, got lr={lr}, steps={steps}")
    net = copy.deepcopy(net)
    layers = scaled_layers(net)
    if not layers:
        raise ValueError("the network has no EqualizedLinear / EqualizedConv2d layers")
    before = {n: m.effective_weight().detach().clone() for n, m in layers.items()}
    opt = torch.optim.Adam([m.weight for m in layers.values()], lr=lr, betas=betas)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(net).backward()
        opt.step()
    out = {}
    for n, m in layers.items():
        if m.weight.grad is None or not m.weight.grad.any():
            continue                                   # not in the current phase: no gradient
        delta = m.effective_weight().detach() - before[n]
        he = m.gain / math.sqrt(m.fan_in)
        out[n] = (delta.pow(2).mean().sqrt() / he).item()
    return out
