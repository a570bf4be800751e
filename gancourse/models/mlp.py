"""Fully connected generator and discriminator, for toy data and flattened images.

The original GAN (Goodfellow et al., 2014) used MLPs; the course uses them for 1D/2D
toys (``out_shape=(2,)``, no output activation) and for 28×28 digits
(``out_shape=(1, 28, 28)``, ``tanh`` output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def _mlp(sizes: Sequence[int], act: nn.Module, dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGenerator(nn.Module):
    """G: z (B, z_dim) -> x (B, *out_shape).

    ``out_activation="tanh"`` for images in [-1, 1]; ``None`` for unbounded toy data.
    """

    def __init__(self, z_dim: int, out_shape: Sequence[int] | int, hidden: Sequence[int] = (256, 256),
                 out_activation: str | None = "tanh"):
        super().__init__()
        self.z_dim = z_dim
        self.out_shape = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
        out_dim = math.prod(self.out_shape)
        layers = _mlp([z_dim, *hidden], nn.ReLU())
        layers.append(nn.Linear(hidden[-1] if hidden else z_dim, out_dim))
        if out_activation == "tanh":
            layers.append(nn.Tanh())
        elif out_activation is not None:
            raise ValueError(f"out_activation must be 'tanh' or None, got {out_activation!r}")
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)          # (B, *out_shape)


class MLPDiscriminator(nn.Module):
    """D: x (B, *in_shape) -> score (B,), a raw logit (the loss applies any sigmoid).

    LeakyReLU(0.2) hidden layers as in most GAN code since DCGAN.
    """

    def __init__(self, in_shape: Sequence[int] | int, hidden: Sequence[int] = (256, 256),
                 dropout: float = 0.0):
        super().__init__()
        self.in_shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
        in_dim = math.prod(self.in_shape)
        layers = _mlp([in_dim, *hidden], nn.LeakyReLU(0.2), dropout)
        layers.append(nn.Linear(hidden[-1] if hidden else in_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            shape = ", ".join(map(str, self.in_shape))
            raise ValueError(f"discriminator expects inputs of shape (B, {shape}), got {tuple(x.shape)}")
        return self.net(x.flatten(1)).squeeze(1)                       # (B,)
