"""Convolutional encoders x -> z, and the conv autoencoder / VAE built from them and DCGAN's G.

The GANs that also learn an encoder (VAE-GAN, notebook 15; BiGAN / ALI, notebook 16; inversion
encoders) need the mirror image of the DCGAN generator: an image (B, C, H, W) in [-1, 1] in, a
code (B, z_dim) out. The body is the DCGAN discriminator's (strided 4x4 convolutions,
LeakyReLU(0.2), a normalisation after every conv but the first), followed by one linear layer:

* :class:`ConvEncoder` — deterministic, ``E(x) = z`` (BiGAN);
* :class:`GaussianConvEncoder` — stochastic, q(z|x) = N(μ(x), diag σ²(x)), ``forward`` gives
  (μ, log σ²) and :meth:`~GaussianConvEncoder.sample` the reparameterised draw
  z = μ + σ ⊙ ε, ε ~ N(0, I) (VAE, VAE-GAN, ALI);
* :class:`ConvDecoder` — the DCGAN generator ``z -> tanh(a(z))``, which also exposes the
  pre-tanh activation as Bernoulli logits ℓ = 2a (because tanh(a) = 2 σ(2a) − 1, the image
  x̂ = tanh(ℓ / 2) of :mod:`gancourse.models.autoencoder`);
* :class:`ConvAutoencoder` and :class:`ConvVAE` — the package's :class:`Autoencoder` and
  :class:`VAE` (same losses, same :func:`train_autoencoder`) with these conv networks in place
  of the MLPs, so that a GAN and its autoencoder baseline can share one architecture:
  ``vae.encoder`` and ``vae.decoder`` are exactly the networks a VAE-GAN trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gancourse.models.autoencoder import VAE, Autoencoder, _check_images
from gancourse.models.dcgan import DCGANGenerator, _norm, _plan
from gancourse.models.init import dcgan_init


def conv_body(channels: int, image_size: int, ndf: int, norm: str | None = "batch"
              ) -> tuple[nn.Sequential, int]:
    """The DCGAN discriminator's convolutions, flattened: (B, C, H, W) -> (B, n_features).

    Returns the network and ``n_features`` (= width · seed² : 2·ndf · 7 · 7 for 28 px)."""
    if ndf < 1:
        raise ValueError(f"ndf must be >= 1, got {ndf}")
    seed, doublings = _plan(image_size)
    layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    width = ndf
    for _ in range(doublings - 1):                                      # H -> H/2, C -> 2C
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm is None),
                   _norm(norm, width * 2), nn.LeakyReLU(0.2, True)]
        width *= 2
    layers.append(nn.Flatten())                                          # (B, width·seed²)
    return nn.Sequential(*layers), width * seed * seed


class _ConvCoder(nn.Module):
    """conv body -> linear layer to ``out_dim``; checks the input shape."""

    def __init__(self, out_dim: int, channels: int, image_size: int, ndf: int, norm: str | None):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"the code size must be >= 1, got {out_dim}")
        self.channels, self.image_size = channels, image_size
        self.body, n_features = conv_body(channels, image_size, ndf, norm)
        self.fc = nn.Linear(n_features, out_dim)
        dcgan_init(self)

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"{type(self).__name__} expects images of shape "
                             f"(B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        return self.fc(self.body(x))                                     # (B, out_dim)


class ConvEncoder(_ConvCoder):
    """Deterministic encoder E: image (B, C, H, W) -> code (B, z_dim)."""

    stochastic = False

    def __init__(self, z_dim: int = 16, channels: int = 1, image_size: int = 28, ndf: int = 32,
                 norm: str | None = "batch"):
        super().__init__(z_dim, channels, image_size, ndf, norm)
        self.z_dim = z_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._out(x)                                              # (B, z_dim)


class GaussianConvEncoder(_ConvCoder):
    """Stochastic encoder q(z|x) = N(μ(x), diag σ²(x)): ``forward`` -> (μ, log σ²), each (B, z_dim)."""

    stochastic = True

    def __init__(self, z_dim: int = 16, channels: int = 1, image_size: int = 28, ndf: int = 32,
                 norm: str | None = "batch"):
        super().__init__(2 * z_dim, channels, image_size, ndf, norm)
        self.z_dim = z_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self._out(x).chunk(2, dim=1)                        # (B, z_dim) each
        return mu, logvar

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = μ(x) + σ(x) ⊙ ε, ε ~ N(0, I): a draw of q(z|x) that gradients flow through."""
        mu, logvar = self(x)
        return VAE.reparameterize(mu, logvar, generator)                 # (B, z_dim)


class MLPEncoder(nn.Module):
    """Fully connected encoder: image (B, *image_shape) flattened -> hidden layers
    (LeakyReLU(0.2), batch norm after every hidden layer but the first) -> code (B, out_dim).
    ``gaussian=True`` makes it q(z|x): ``forward`` -> (μ, log σ²) and :meth:`sample` as in
    :class:`GaussianConvEncoder`. (BiGAN's MNIST experiments used fully connected networks.)"""

    def __init__(self, z_dim: int = 16, image_shape: Sequence[int] = (1, 28, 28),
                 hidden: Sequence[int] = (512, 512), gaussian: bool = False):
        super().__init__()
        if z_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need z_dim >= 1 and hidden layers of size >= 1, got z_dim={z_dim}, "
                             f"hidden={tuple(hidden)}")
        self.z_dim, self.image_shape, self.stochastic = z_dim, tuple(image_shape), bool(gaussian)
        sizes = [math.prod(self.image_shape), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Linear(a, b, bias=i == 0)] + ([nn.BatchNorm1d(b)] if i > 0 else [])
            layers.append(nn.LeakyReLU(0.2, True))
        layers.append(nn.Linear(sizes[-1], 2 * z_dim if gaussian else z_dim))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        _check_images(x, self.image_shape)
        out = self.net(x)                                                # (B, z_dim or 2 z_dim)
        return tuple(out.chunk(2, dim=1)) if self.stochastic else out

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = μ(x) + σ(x) ⊙ ε (``gaussian=True`` only)."""
        if not self.stochastic:
            raise RuntimeError("a deterministic MLPEncoder has no q(z|x) to sample; build it "
                               "with gaussian=True")
        mu, logvar = self(x)
        return VAE.reparameterize(mu, logvar, generator)                 # (B, z_dim)


class ConvDecoder(nn.Module):
    """The DCGAN generator as a decoder: ``forward(z)`` -> image tanh(a) in [-1, 1],
    :meth:`logits` -> ℓ = 2a, the Bernoulli logits of the same image (tanh(a) = 2σ(2a) − 1)."""

    def __init__(self, z_dim: int = 16, channels: int = 1, image_size: int = 28, ngf: int = 32):
        super().__init__()
        self.z_dim, self.channels, self.image_size = z_dim, channels, image_size
        self.generator = DCGANGenerator(z_dim=z_dim, channels=channels, image_size=image_size, ngf=ngf)

    def _check(self, z: torch.Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected codes of shape (B, {self.z_dim}), got {tuple(z.shape)}")

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """ℓ = 2a(z), a the generator's pre-tanh output: (B, C, H, W)."""
        self._check(z)
        pre_tanh = self.generator.net[:-1](z.view(z.shape[0], self.z_dim, 1, 1))
        return 2 * pre_tanh                                              # (B, C, H, W)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z)
        return self.generator(z)                                         # (B, C, H, W) in [-1, 1]


class ConvAutoencoder(Autoencoder):
    """:class:`~gancourse.models.autoencoder.Autoencoder` with a :class:`ConvEncoder` and a
    :class:`ConvDecoder`; trains with ``train_autoencoder`` (squared error)."""

    def __init__(self, z_dim: int = 16, image_shape: Sequence[int] = (1, 28, 28), ndf: int = 32,
                 ngf: int = 32):
        nn.Module.__init__(self)
        channels, size, _ = _conv_shape(image_shape)
        self.z_dim, self.image_shape = z_dim, tuple(image_shape)
        self.encoder = ConvEncoder(z_dim, channels, size, ndf)
        self.decoder = ConvDecoder(z_dim, channels, size, ngf)
        self.register_buffer("prior_mean", torch.zeros(z_dim))
        self.register_buffer("prior_scale_tril", torch.zeros(z_dim, z_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.image_shape)
        return self.encoder(x)                                           # (B, z_dim)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(z)                                    # (B, C, H, W)


class ConvVAE(VAE):
    """:class:`~gancourse.models.autoencoder.VAE` with a :class:`GaussianConvEncoder` and a
    :class:`ConvDecoder`; trains with ``train_autoencoder`` (negative ELBO, Bernoulli pixels).

    ``vae.encoder(x)`` -> (μ, log σ²) and ``vae.decoder(z)`` -> image: the two networks a
    VAE-GAN (notebook 15) trains with a discriminator.
    """

    def __init__(self, z_dim: int = 16, image_shape: Sequence[int] = (1, 28, 28), ndf: int = 32,
                 ngf: int = 32):
        nn.Module.__init__(self)
        channels, size, _ = _conv_shape(image_shape)
        self.z_dim, self.image_shape = z_dim, tuple(image_shape)
        self.encoder = GaussianConvEncoder(z_dim, channels, size, ndf)
        self.decoder = ConvDecoder(z_dim, channels, size, ngf)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_images(x, self.image_shape)
        return self.encoder(x)                                           # (μ, log σ²)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(z)                                    # (B, C, H, W)


def _conv_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(image_shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"image_shape must be (C, S, S) with S in 28, 32, 64, got {shape}")
    _plan(shape[1])
    return shape[0], shape[1], shape[2]
