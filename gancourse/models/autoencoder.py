"""Autoencoders whose decoder doubles as a generator: "can the generator learn by itself?"

Both models are MLPs for small images (B, C, H, W) in [-1, 1] (28×28 digits by default).

**Autoencoder**: ``z = enc(x)``, ``x̂ = dec(z)``, trained on the pixel-wise squared error

    L_AE = (1/B) Σ_b ‖x_b − x̂_b‖²   (summed over pixels, averaged over the batch).

It has no prior over z, so decoding z ~ N(0, I) gives garbage. :meth:`Autoencoder.fit_prior`
fits a Gaussian N(m, S) to the codes of training images; :meth:`Autoencoder.sample` decodes
draws from it.

**VAE** (Kingma & Welling, 2014): encoder q(z|x) = N(μ(x), diag σ²(x)), prior p(z) = N(0, I),
decoder p(x|z): every pixel value t = (x + 1)/2 ∈ [0, 1] is scored by a Bernoulli (cross-entropy)
likelihood with mean π = sigmoid(ℓ(z)), ℓ the decoder's logits. Training minimises the negative
evidence lower bound (ELBO), per image

    −ELBO(x) = E_{q(z|x)}[−log p(x|z)] + β · KL(q(z|x) ‖ p(z))      (β = 1: the ELBO)
    −log p(x|z) = Σ_pixels −[t log π + (1 − t) log(1 − π)]            (one z per image,
                                                                      z = μ + σ ⊙ ε, ε ~ N(0, I))
    KL(q ‖ p) = ½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1)                      (closed form)

Decoded images are x̂ = 2π − 1 = tanh(ℓ/2). Samples are x̂ for z ~ N(0, I): the decoder is a
generator. Both losses compare x and x̂ pixel by pixel, which is why the samples come out as
blurry averages (notebook 02).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import trange

from gancourse.models.mlp import _mlp
from gancourse.training import RealBatches


def _check_images(x: torch.Tensor, image_shape: tuple[int, ...]) -> None:
    if x.ndim != 1 + len(image_shape) or tuple(x.shape[1:]) != image_shape:
        shape = ", ".join(map(str, image_shape))
        raise ValueError(f"expected images of shape (B, {shape}), got {tuple(x.shape)}")


class _MLPCoder(nn.Module):
    """Encoder MLP in_dim -> hidden -> code_dim, decoder MLP z_dim -> reversed hidden -> in_dim."""

    def __init__(self, z_dim: int, code_dim: int, image_shape: Sequence[int],
                 hidden: Sequence[int]):
        super().__init__()
        if z_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need z_dim >= 1 and at least one hidden layer of size >= 1, got "
                             f"z_dim={z_dim}, hidden={tuple(hidden)}")
        self.z_dim = z_dim
        self.image_shape = tuple(image_shape)
        in_dim = math.prod(self.image_shape)
        self.encoder = nn.Sequential(*_mlp([in_dim, *hidden], nn.ReLU()),
                                     nn.Linear(hidden[-1], code_dim))
        self.decoder = nn.Sequential(*_mlp([z_dim, *hidden[::-1]], nn.ReLU()),
                                     nn.Linear(hidden[0], in_dim))

    def _code(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.image_shape)
        return self.encoder(x.flatten(1))                                 # (B, code_dim)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output before the squashing, (B, C, H, W)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected codes of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.decoder(z).view(z.shape[0], *self.image_shape)        # (B, C, H, W)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1]: tanh(ℓ/2) = 2 sigmoid(ℓ) − 1 of the logits ℓ."""
        return torch.tanh(self.decode_logits(z) / 2)                      # (B, C, H, W)


class Autoencoder(_MLPCoder):
    """Deterministic MLP autoencoder: ``encode`` (B, C, H, W) -> (B, z_dim), ``decode`` back."""

    def __init__(self, z_dim: int = 16, image_shape: Sequence[int] = (1, 28, 28),
                 hidden: Sequence[int] = (512, 256)):
        super().__init__(z_dim, z_dim, image_shape, hidden)
        self.register_buffer("prior_mean", torch.zeros(z_dim))
        self.register_buffer("prior_scale_tril", torch.zeros(z_dim, z_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._code(x)                                              # (B, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))                                # (B, C, H, W)

    @torch.no_grad()
    def fit_prior(self, images: torch.Tensor, batch_size: int = 500) -> None:
        """Fit N(m, S) to the codes of ``images`` (N >= 2): m the mean, S the covariance
        (+ 1e-5 I); stores m and the Cholesky factor of S for :meth:`sample`."""
        if len(images) < 2:
            raise ValueError(f"need at least 2 images to fit a covariance, got {len(images)}")
        device = self.prior_mean.device
        codes = torch.cat([self.encode(images[i:i + batch_size].to(device))
                           for i in range(0, len(images), batch_size)])    # (N, z_dim)
        cov = torch.cov(codes.T).reshape(self.z_dim, self.z_dim)
        cov = cov + 1e-5 * torch.eye(self.z_dim, device=device)
        self.prior_mean.copy_(codes.mean(0))
        self.prior_scale_tril.copy_(torch.linalg.cholesky(cov))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode n codes z = m + L ε, ε ~ N(0, I), from the prior fitted by :meth:`fit_prior`."""
        if not self.prior_scale_tril.any():
            raise RuntimeError("the autoencoder has no prior over z; call fit_prior(train_images) "
                               "before sample()")
        eps = torch.randn(n, self.z_dim, generator=generator).to(self.prior_mean.device)
        return self.decode(self.prior_mean + eps @ self.prior_scale_tril.T)   # (n, C, H, W)


class VAE(_MLPCoder):
    """Variational autoencoder; ``encode`` gives (μ, log σ²), ``sample`` decodes z ~ N(0, I)."""

    def __init__(self, z_dim: int = 16, image_shape: Sequence[int] = (1, 28, 28),
                 hidden: Sequence[int] = (512, 256)):
        super().__init__(z_dim, 2 * z_dim, image_shape, hidden)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self._code(x).chunk(2, dim=1)                        # (B, z_dim) each
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = μ + σ ⊙ ε with ε ~ N(0, I): a sample of q(z|x) that gradients flow through."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps                         # (B, z_dim)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoder logits (B, C, H, W), μ, log σ²) for one z ~ q(z|x) per image."""
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode n codes z ~ N(0, I) (the prior): (n, C, H, W) in [-1, 1]."""
        device = next(self.parameters()).device
        return self.decode(torch.randn(n, self.z_dim, generator=generator).to(device))


def ae_loss(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(1/B) Σ_b ‖x_b − x̂_b‖²: squared error summed over pixels, averaged over images."""
    if recon.shape != x.shape:
        raise ValueError(f"recon and x must have the same shape, got {tuple(recon.shape)} "
                         f"and {tuple(x.shape)}")
    return (recon - x).pow(2).flatten(1).sum(1).mean()


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> dict[str, torch.Tensor]:
    """Negative ELBO averaged over the batch: ``{"loss": recon + β kl, "recon", "kl"}``.

    recon = Σ_pixels BCE(sigmoid(ℓ), (x + 1)/2), kl = ½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1);
    see the module docstring. ``x`` in [-1, 1], ``logits`` of the same shape, ``mu`` and
    ``logvar`` (B, z_dim).
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got {tuple(logits.shape)} "
                         f"and {tuple(x.shape)}")
    if mu.shape != logvar.shape or mu.shape[0] != x.shape[0]:
        raise ValueError(f"mu and logvar must both be (B, z_dim) with B = {x.shape[0]}, got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    target = (x + 1) / 2                                                  # pixels in [0, 1]
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    recon = bce.flatten(1).sum(1)                                         # (B,)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)             # (B,)
    return {"loss": (recon + beta * kl).mean(), "recon": recon.mean(), "kl": kl.mean()}


def train_autoencoder(model: Autoencoder | VAE, images: torch.Tensor, steps: int,
                      batch_size: int = 64, lr: float = 1e-3, beta: float = 1.0, seed: int = 0,
                      progress: bool = True) -> dict[str, list[float]]:
    """Adam on :func:`ae_loss` (Autoencoder) or :func:`vae_loss` (VAE) for ``steps`` batches.

    ``images`` (N, C, H, W) in [-1, 1] are shuffled each epoch with ``seed`` and moved to the
    model's device. Returns the history per step: ``loss`` (and ``recon``, ``kl`` for a VAE).
    The model is left in eval mode.
    """
    if not isinstance(model, Autoencoder | VAE):
        raise TypeError(f"model must be an Autoencoder or a VAE, got {type(model).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    _check_images(images, model.image_shape)
    device = next(model.parameters()).device
    batches = RealBatches(images, batch_size, device, seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {}
    model.train()
    for _ in trange(steps, desc=type(model).__name__, disable=not progress, leave=False):
        x = next(batches).x                                               # (B, C, H, W)
        if isinstance(model, VAE):
            logits, mu, logvar = model(x, generator=noise)
            parts = vae_loss(logits, x, mu, logvar, beta=beta)
        else:
            parts = {"loss": ae_loss(model(x), x)}
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        opt.step()
        for k, v in parts.items():
            history.setdefault(k, []).append(v.item())
    model.eval()
    return history
