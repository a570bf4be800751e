"""Autoencoder discriminators for energy-based GANs (EBGAN, BEGAN).

The discriminator is an autoencoder ``x̂ = Dec(Enc(x))`` and its output is the per-sample
*energy*, the reconstruction error

    E(x) = (1/d) Σ_i |x_i − x̂_i|^p        (mean over the d input dimensions; p = 1 or 2)

a tensor (B,) like any other discriminator score, so it plugs into
:class:`gancourse.training.GANTrainer` subclasses. Low energy means "looks like data" (the
autoencoder has learned to reconstruct it), high energy "looks fake". EBGAN uses p = 2
(mean squared error), BEGAN p = 1. :meth:`AutoencoderDiscriminator.energy_terms` also returns
the encoder's code (for EBGAN's pulling-away term) and the reconstruction (for plots).

* :class:`MLPAutoencoderD`: fully connected, for 2D toys (or any flat input);
* :class:`ConvAutoencoderD`: convolutional (BEGAN-style: ELU, strided convs down,
  nearest-neighbour upsampling + convs up, a linear bottleneck), for 28, 32 or 64 pixel images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gancourse.models.dcgan import _plan


def reconstruction_energy(x: torch.Tensor, x_hat: torch.Tensor, p: int = 1) -> torch.Tensor:
    """E = mean_i |x_i − x̂_i|^p over all but the batch dimension: (B, ...) -> (B,)."""
    if p not in (1, 2):
        raise ValueError(f"p must be 1 (L1, BEGAN) or 2 (squared error, EBGAN), got {p!r}")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and its reconstruction differ in shape: {tuple(x.shape)} vs "
                         f"{tuple(x_hat.shape)}")
    diff = (x - x_hat).flatten(1)                                       # (B, d)
    return (diff.abs() if p == 1 else diff.pow(2)).mean(dim=1)          # (B,)


class AutoencoderDiscriminator(nn.Module):
    """Base class: ``encoder`` maps (B, *in_shape) -> (B, code_dim), ``decoder`` back.

    ``forward(x)`` returns the energy (B,); subclasses build ``encoder`` and ``decoder``.
    """

    encoder: nn.Module
    decoder: nn.Module

    def __init__(self, in_shape: Sequence[int], code_dim: int, p: int):
        super().__init__()
        if code_dim < 1:
            raise ValueError(f"code_dim must be >= 1, got {code_dim}")
        if p not in (1, 2):
            raise ValueError(f"p must be 1 (L1, BEGAN) or 2 (squared error, EBGAN), got {p!r}")
        self.in_shape, self.code_dim, self.p = tuple(in_shape), code_dim, p

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.in_shape or x.ndim != 1 + len(self.in_shape):
            shape = ", ".join(map(str, self.in_shape))
            raise ValueError(f"{type(self).__name__} expects inputs of shape (B, {shape}), "
                             f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code h = Enc(x): (B, *in_shape) -> (B, code_dim)."""
        self._check(x)
        return self.encoder(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x̂ = Dec(h): (B, code_dim) -> (B, *in_shape)."""
        if h.ndim != 2 or h.shape[1] != self.code_dim:
            raise ValueError(f"expected codes of shape (B, {self.code_dim}), got {tuple(h.shape)}")
        return self.decoder(h).view(h.shape[0], *self.in_shape)

    def energy_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(energy (B,), code (B, code_dim), reconstruction (B, *in_shape)) in one pass."""
        h = self.encode(x)
        x_hat = self.decode(h)
        return reconstruction_energy(x, x_hat, self.p), h, x_hat

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The autoencoder's reconstruction x̂ of x, same shape."""
        return self.decode(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The energy E(x) (B,): the discriminator score (low = real)."""
        return self.energy_terms(x)[0]


class MLPAutoencoderD(AutoencoderDiscriminator):
    """Fully connected autoencoder discriminator: in_dim -> hidden -> code -> hidden -> in_dim.

    ELU hidden activations, linear code and output (toy data is unbounded).
    """

    def __init__(self, in_dim: int = 2, hidden: Sequence[int] = (128, 128), code_dim: int = 8,
                 p: int = 2):
        super().__init__((in_dim,), code_dim, p)
        if in_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need in_dim >= 1 and at least one hidden layer of size >= 1, got "
                             f"in_dim={in_dim}, hidden={tuple(hidden)}")
        self.encoder = _mlp([in_dim, *hidden, code_dim])
        self.decoder = _mlp([code_dim, *hidden[::-1], in_dim])


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ELU between them (none after the last)."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ELU()]
    return nn.Sequential(*layers[:-1])


class ConvAutoencoderD(AutoencoderDiscriminator):
    """Convolutional autoencoder discriminator for (channels, S, S) images, S ∈ {28, 32, 64}.

    Encoder: the DCGAN discriminator's stride-2 4×4 convs (width ndf, 2·ndf, ... per halving)
    down to the seed resolution (7 for 28, 4 for 32/64), flattened into a linear code of
    ``code_dim``. Decoder: its mirror image, linear to the seed resolution then stride-2 4×4
    transposed convs. ELU activations as in BEGAN, no output activation. (BEGAN's own decoder
    upsamples with nearest neighbours and 3×3 convs at full width: several times the cost.)
    """

    def __init__(self, channels: int = 1, image_size: int = 28, ndf: int = 32, code_dim: int = 32,
                 p: int = 1):
        super().__init__((channels, image_size, image_size), code_dim, p)
        if ndf < 1:
            raise ValueError(f"ndf must be >= 1, got {ndf}")
        seed, doublings = _plan(image_size)
        widths = [ndf * 2 ** i for i in range(doublings)]               # ndf, 2 ndf, ...
        enc: list[nn.Module] = []
        for c_in, c_out in zip([channels, *widths[:-1]], widths):        # S -> S/2
            enc += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.ELU()]
        enc += [nn.Flatten(), nn.Linear(widths[-1] * seed * seed, code_dim)]  # (B, code_dim)
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Linear(code_dim, widths[-1] * seed * seed), nn.ELU(),
                                nn.Unflatten(1, (widths[-1], seed, seed))]
        for c_in, c_out in zip(widths[::-1], widths[::-1][1:]):          # 2S <- S
            dec += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.ELU()]
        dec += [nn.ConvTranspose2d(widths[0], channels, 4, 2, 1)]       # (B, channels, S, S)
        self.decoder = nn.Sequential(*dec)
