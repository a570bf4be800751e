"""BiGAN (Donahue, Krähenbühl & Darrell, 2017) and ALI (Dumoulin et al., 2017): a GAN that also
learns the way back, an encoder E: x -> z. Notebook 16.

The discriminator scores (image, code) *pairs*. Real pairs put a data image next to its code,
(x, E(x)) with x ~ p_X; fake pairs put a generated image next to the code it came from,
(G(z), z) with z ~ p_Z:

    V(D, E, G) = E_{x~p_X}[log D(x, E(x))] + E_{z~p_Z}[log(1 − D(G(z), z))]
    min_{G, E} max_D V(D, E, G)

**Why the optimum inverts.** D compares two joint distributions over (x, z):
P_EX(x, z) = p_X(x) p_E(z|x) and P_GZ(x, z) = p_Z(z) p_G(x|z). As in the original GAN, with the
optimal D, V = 2 JS(P_EX ‖ P_GZ) − log 4, minimal exactly when P_EX = P_GZ. For a deterministic
E and G, P_EX lives on the graph {(x, E(x))} and P_GZ on {(G(z), z)}; the two coincide only if
every (x, E(x)) is a (G(z), z), i.e. G(E(x)) = x for p_X-almost every x and E(G(z)) = z for
p_Z-almost every z: at the optimum E = G⁻¹. :func:`joint_js` computes the game's JS for
discrete p_X, p_Z and deterministic tables E, G, so the claim can be checked by enumeration.

**Deterministic vs stochastic encoder.** BiGAN's E is a function, z = E(x). ALI's is a
distribution, q(z|x) = N(μ(x), diag σ²(x)), sampled with the reparameterisation trick
z = μ + σ ⊙ ε (so gradients reach μ and σ); ALI's G may also be stochastic. At the optimum the
joints match, so q(z|x) becomes the posterior of G's model, p(z|x).

:class:`BiGANTrainer` trains both through the one loop: ``netD(x, z)`` scores pairs (e.g.
:class:`JointDiscriminator`), the encoder is registered with :meth:`add_network` in the G
optimiser (E and G both minimise). E and G use the non-saturating trick for both terms, i.e.
they minimise D's loss with the labels swapped (:func:`encoder_generator_loss`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gancourse import losses as L
from gancourse.divergences.fdiv import js_divergence
from gancourse.models.encoders import conv_body
from gancourse.models.init import dcgan_init
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- the discriminator
class JointDiscriminator(nn.Module):
    """D(x, z): a raw score (B,) for an image (B, C, H, W) paired with a code (B, z_dim).

    Three parts, as in the BiGAN and ALI papers: an x path (the DCGAN discriminator's
    convolutions, flattened), a z path (two linear layers) and a joint head on the
    concatenation of both (a linear layer, then the score). LeakyReLU(0.2) throughout and
    dropout ``dropout`` after every hidden layer (ALI uses 0.2) keep D from memorising pairs.
    """

    def __init__(self, z_dim: int = 16, channels: int = 1, image_size: int = 28, ndf: int = 32,
                 hidden: int = 256, dropout: float = 0.2, norm: str | None = None):
        super().__init__()
        if z_dim < 1 or hidden < 1:
            raise ValueError(f"z_dim and hidden must be >= 1, got {z_dim} and {hidden}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.z_dim, self.channels, self.image_size = z_dim, channels, image_size
        body, n_feat = conv_body(channels, image_size, ndf, norm)
        self.x_path = nn.Sequential(body, nn.Dropout(dropout))            # (B, n_feat)
        self.z_path = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2, True), nn.Dropout(dropout),
                                    nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True),
                                    nn.Dropout(dropout))                 # (B, hidden)
        self.joint = nn.Sequential(nn.Linear(n_feat + hidden, hidden), nn.LeakyReLU(0.2, True),
                                   nn.Dropout(dropout), nn.Linear(hidden, 1))  # (B, 1)
        dcgan_init(self)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"JointDiscriminator expects images (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        if z.ndim != 2 or z.shape != (len(x), self.z_dim):
            raise ValueError(f"JointDiscriminator expects codes (B, {self.z_dim}) with B = {len(x)} "
                             f"(one per image), got {tuple(z.shape)}")
        h = torch.cat([self.x_path(x), self.z_path(z)], dim=1)           # (B, n_feat + hidden)
        return self.joint(h).flatten()                                   # (B,)


class MLPJointDiscriminator(nn.Module):
    """D(x, z) for flat data (toys): an MLP on the concatenation [x, z] -> raw score (B,).
    LeakyReLU(0.2) hidden layers, dropout ``dropout`` after each."""

    def __init__(self, x_dim: int, z_dim: int, hidden: Sequence[int] = (128, 128), dropout: float = 0.0):
        super().__init__()
        if x_dim < 1 or z_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need x_dim, z_dim >= 1 and hidden layers of size >= 1, got x_dim={x_dim}, "
                             f"z_dim={z_dim}, hidden={tuple(hidden)}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.x_dim, self.z_dim = x_dim, z_dim
        sizes, layers = [x_dim + z_dim, *hidden], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)] + ([nn.Dropout(dropout)] if dropout else [])
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        if x.ndim != 2 or z.ndim != 2 or x.shape[1] != self.x_dim or z.shape != (len(x), self.z_dim):
            raise ValueError(f"MLPJointDiscriminator expects x (B, {self.x_dim}) and z (B, {self.z_dim}), "
                             f"got {tuple(x.shape)} and {tuple(z.shape)}")
        return self.net(torch.cat([x, z], dim=1)).flatten()              # (B,)


# ----------------------------------------------------------------------------- losses
def _separable(loss: str | L.AdversarialLoss) -> L.AdversarialLoss:
    pair = L.get_loss(loss)
    if not pair.separable:
        raise ValueError(f"BiGAN needs a separable loss (real and fake halves); {pair.name!r} is "
                         f"not. Use one of {', '.join(k for k, v in L.LOSSES.items() if v.separable)}")
    return pair


def bigan_d_loss(real_pair_scores: Tensor, fake_pair_scores: Tensor,
                 loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """D's loss −V: E ℓ_real(D(x, E(x))) + E ℓ_fake(D(G(z), z))."""
    pair = _separable(loss)
    return pair.real_term(real_pair_scores).mean() + pair.fake_term(fake_pair_scores).mean()


def encoder_generator_loss(real_pair_scores: Tensor, fake_pair_scores: Tensor,
                           loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """What E and G minimise: D's loss with the labels swapped,

        E ℓ_real(D(G(z), z)) + E ℓ_fake(D(x, E(x)))      (ns: −log D(G(z), z) − log(1 − D(x, E(x))))

    the non-saturating form of min V: G pushes its pairs towards "real", E pushes the real
    pairs towards "fake", each with strong gradients where D is sure."""
    pair = _separable(loss)
    return pair.real_term(fake_pair_scores).mean() + pair.fake_term(real_pair_scores).mean()


# ----------------------------------------------------------------------------- discrete theory
def _joint_tables(p_x: Any, p_z: Any, enc: Any, gen: Any) -> tuple[np.ndarray, np.ndarray]:
    """P_EX(x, z) = p_X(x) 1[z = E(x)] and P_GZ(x, z) = p_Z(z) 1[x = G(z)], each (n_x, n_z)."""
    px, pz = np.asarray(p_x, dtype=np.float64), np.asarray(p_z, dtype=np.float64)
    e, g = np.asarray(enc), np.asarray(gen)
    if px.ndim != 1 or pz.ndim != 1 or (px < 0).any() or (pz < 0).any() \
            or not np.isclose(px.sum(), 1) or not np.isclose(pz.sum(), 1):
        raise ValueError("p_x and p_z must be 1D probability vectors (>= 0, summing to 1)")
    if e.shape != px.shape or g.shape != pz.shape:
        raise ValueError(f"enc must give one code per x value ({len(px)}) and gen one image per z "
                         f"value ({len(pz)}); got shapes {e.shape} and {g.shape}")
    if not (np.issubdtype(e.dtype, np.integer) and np.issubdtype(g.dtype, np.integer)) \
            or e.min() < 0 or e.max() >= len(pz) or g.min() < 0 or g.max() >= len(px):
        raise ValueError(f"enc must map to codes 0..{len(pz) - 1} and gen to images 0..{len(px) - 1}")
    p_ex = np.zeros((len(px), len(pz)))
    p_ex[np.arange(len(px)), e] = px
    p_gz = np.zeros((len(px), len(pz)))
    p_gz[g, np.arange(len(pz))] = pz
    return p_ex, p_gz


def joint_js(p_x: Any, p_z: Any, enc: Any, gen: Any) -> float:
    """JS(P_EX ‖ P_GZ) for discrete p_X (n_x,), p_Z (n_z,) and deterministic tables
    ``enc`` (n_x,) (x -> code index) and ``gen`` (n_z,) (z -> image index). With the optimal
    D the BiGAN game's value is 2 JS − log 4; JS = 0 only when the two joints agree, which
    for deterministic maps means E and G invert each other on the supports."""
    p_ex, p_gz = _joint_tables(p_x, p_z, enc, gen)
    return js_divergence(p_ex.ravel(), p_gz.ravel())


def optimal_pair_discriminator(p_x: Any, p_z: Any, enc: Any, gen: Any) -> np.ndarray:
    """D*(x, z) = P_EX / (P_EX + P_GZ) for the discrete setting of :func:`joint_js`, (n_x, n_z);
    NaN where neither joint has mass. ½ where the two joints agree (D cannot tell), 1 on pairs
    only the encoder makes, 0 on pairs only the generator makes."""
    p_ex, p_gz = _joint_tables(p_x, p_z, enc, gen)
    total = p_ex + p_gz
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_ex / total, np.nan)


def inverts(enc: Any, gen: Any, p_x: Any, p_z: Any) -> bool:
    """G(E(x)) = x for every x with p_X(x) > 0 and E(G(z)) = z for every z with p_Z(z) > 0."""
    e, g = np.asarray(enc), np.asarray(gen)
    px, pz = np.asarray(p_x), np.asarray(p_z)
    return bool(all(g[e[x]] == x for x in np.flatnonzero(px > 0))
                and all(e[g[z]] == z for z in np.flatnonzero(pz > 0)))


# ----------------------------------------------------------------------------- trainer
class BiGANTrainer(GANTrainer):
    """BiGAN (deterministic ``encoder``: x -> z) or ALI (an encoder with ``stochastic = True``,
    e.g. :class:`~gancourse.models.encoders.GaussianConvEncoder`: x -> (μ, log σ²), sampled with
    the reparameterisation trick) through the one loop.

    Args:
        netG: G: z (B, z_dim) -> image.
        netD: D(x, z) -> raw scores (B,), e.g. :class:`JointDiscriminator`.
        encoder: E, registered as ``netE`` in the G optimiser (own parameter group, learning
            rate ``lr_e``, default ``lr_g``).
        other arguments: as :class:`GANTrainer` (``config.loss`` must be separable).

    ``generate(batch)`` returns ``{"x": G(z), "z": z, "z_enc": E(x)}`` (for ALI ``z_enc`` is a
    draw of q(z|x)); ``D_real`` / ``D_fake`` in the history are mean σ(D) on the real pairs
    (x, E(x)) and the fake pairs (G(z), z).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 encoder: nn.Module, lr_e: float | None = None, **kwargs: Any):
        if kwargs.get("num_classes"):
            raise ValueError("BiGAN is unconditional here; drop num_classes")
        _separable(config.loss)
        if config.penalty is not None:
            raise ValueError("the gradient penalties of TrainConfig score images alone; BiGAN's D "
                             "scores (x, z) pairs, so set penalty=None")
        super().__init__(netG, netD, data, config, **kwargs)
        self.add_network("netE", encoder, role="G", lr=lr_e)
        self.stochastic = bool(getattr(encoder, "stochastic", False))

    @property
    def netE(self) -> nn.Module:
        return self.networks["netE"]

    def encode_batch(self, x: Tensor) -> Tensor:
        """E(x) for training: the code (BiGAN) or a reparameterised draw of q(z|x) (ALI)."""
        netE = self.compiled["netE"]
        if self.stochastic:
            mu, logvar = netE(x)
            return mu + torch.exp(0.5 * logvar) * torch.randn(
                mu.shape, device=mu.device, dtype=mu.dtype, generator=self.noise)   # (B, z_dim)
        return netE(x)                                                   # (B, z_dim)

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        z = self._z(len(batch.x))                                        # (B, z_dim) ~ p_Z
        return {"x": self.G(z), "z": z, "z_enc": self.encode_batch(batch.x)}

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        real_s = self.D(batch.x, fake["z_enc"]).float()                 # real pairs (x, E(x))
        fake_s = self.D(fake["x"], fake["z"]).float()                    # fake pairs (G(z), z)
        return bigan_d_loss(real_s, fake_s, self.loss), real_s, fake_s

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        real_s = self.D(batch.x, fake["z_enc"]).float()                 # graph into E
        fake_s = self.D(fake["x"], fake["z"]).float()                    # graph into G
        return encoder_generator_loss(real_s, fake_s, self.loss)

    # -- using the trained model ------------------------------------------------------
    @torch.no_grad()
    def encode(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """E(x) in eval mode (ALI: the mean μ(x)), on the CPU: (N, z_dim) for a batch (N, ...)."""
        return encode(self.netE, images, batch_size)

    @torch.no_grad()
    def reconstruct(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """G(E(x)) in eval mode, on the CPU: the shape of ``images``."""
        codes = self.encode(images, batch_size)
        was = self.netG.training
        self.netG.eval()
        try:
            return torch.cat([self.netG(c.to(self.device)).float().cpu() for c in codes.split(batch_size)])
        finally:
            self.netG.train(was)


@torch.no_grad()
def encode(encoder: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """Codes of a batch (N, ...) (images (N, C, H, W), or (N, d) toy points) with ``encoder`` in
    eval mode (restored afterwards); for an encoder that returns (μ, log σ²) the mean μ. On the
    CPU: (N, z_dim)."""
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, ...), got shape {tuple(images.shape)}")
    device = next(encoder.parameters()).device
    was = encoder.training
    encoder.eval()
    try:
        out = []
        for chunk in images.split(batch_size):
            code = encoder(chunk.to(device))
            out.append((code[0] if isinstance(code, tuple) else code).float().cpu())
    finally:
        encoder.train(was)
    return torch.cat(out)
