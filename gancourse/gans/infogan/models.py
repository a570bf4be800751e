"""InfoGAN's networks for small images (the MNIST architecture of Chen et al., 2016, Table 1,
with widths as arguments).

* :class:`InfoGenerator` — G(z, c): [z, one-hot(c_cat), c_cont] -> FC -> FC -> 7×7 feature
  map -> two transposed convolutions -> image in [-1, 1] (tanh).
* :class:`InfoDiscriminator` — a shared *body* (two strided convolutions and an FC layer,
  LeakyReLU 0.1, batch norm) and D's one-unit realism head. ``netD(x, features=True)``
  returns the body's features next to the score, so the Q head reuses them.
* :class:`QHead` — Q(c | x) on the body's features: FC -> logits of the K-way categorical
  code and the means (and, with ``learn_var``, the log-variances) of the M continuous codes.

Q costs one small MLP on top of D: the body's features are computed once per image and
read by both heads, which is why InfoGAN adds almost nothing to a GAN's training time.
"""

from __future__ import annotations

import torch
from torch import nn

from gancourse.gans.infogan.codes import check_code_sizes
from gancourse.models.init import dcgan_init

Tensor = torch.Tensor


def _check_size(image_size: int) -> int:
    if int(image_size) % 4 or int(image_size) < 8:
        raise ValueError(f"image_size must be a multiple of 4 and >= 8 (28 for MNIST), got {image_size}")
    return int(image_size) // 4


class InfoGenerator(nn.Module):
    """G: z (B, z_dim) and the code vector c (B, n_cat + n_cont) -> images (B, C, H, W)."""

    def __init__(self, z_dim: int = 62, n_cat: int = 10, n_cont: int = 2, channels: int = 1,
                 image_size: int = 28, ngf: int = 64, fc: int = 1024):
        super().__init__()
        check_code_sizes(n_cat, n_cont)
        self.z_dim, self.n_cat, self.n_cont = int(z_dim), int(n_cat), int(n_cont)
        self.code_dim = self.n_cat + self.n_cont
        self.channels, self.image_size = channels, image_size
        self.seed = s = _check_size(image_size)
        self.width = 2 * ngf
        self.fc = nn.Sequential(
            nn.Linear(self.z_dim + self.code_dim, fc), nn.BatchNorm1d(fc), nn.ReLU(True),
            nn.Linear(fc, self.width * s * s), nn.BatchNorm1d(self.width * s * s), nn.ReLU(True))
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(self.width, ngf, 4, 2, 1), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 2s
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1), nn.Tanh())                            # 4s
        dcgan_init(self)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        if tuple(c.shape) != (z.shape[0], self.code_dim):
            raise ValueError(f"the code vector must have shape ({z.shape[0]}, {self.code_dim}) "
                             f"= [one-hot of {self.n_cat}, {self.n_cont} continuous], got "
                             f"{tuple(c.shape)}; build it with code_vector(cat, cont, n_cat)")
        h = self.fc(torch.cat([z, c.to(z.dtype)], dim=1))                       # (B, 2ngf·s·s)
        return self.deconv(h.view(-1, self.width, self.seed, self.seed))         # (B, C, 4s, 4s)


class InfoDiscriminator(nn.Module):
    """D: images (B, C, H, W) -> raw scores (B,); with ``features=True`` also the shared body's
    features (B, fc) that the Q head reads."""

    def __init__(self, channels: int = 1, image_size: int = 28, ndf: int = 64, fc: int = 1024):
        super().__init__()
        self.channels, self.image_size, self.feature_dim = channels, image_size, int(fc)
        s = _check_size(image_size)
        self.body = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.1, True),                  # (B, ndf, 2s, 2s)
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf),
            nn.LeakyReLU(0.1, True),                                                     # (B, 2ndf, s, s)
            nn.Flatten(),
            nn.Linear(2 * ndf * s * s, fc, bias=False), nn.BatchNorm1d(fc), nn.LeakyReLU(0.1, True))
        self.head = nn.Linear(fc, 1)
        dcgan_init(self)

    def forward(self, x: Tensor, features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        expected = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"discriminator expects images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        h = self.body(x)                                                        # (B, fc)
        score = self.head(h).flatten()                                          # (B,)
        return (score, h) if features else score


class QHead(nn.Module):
    """Q(c | x) from D's body features h (B, in_features).

    Returns ``(cat_logits (B, K) or None, cont_mean (B, M) or None, cont_logvar (B, M) or None)``;
    the log-variance is None unless ``learn_var`` (then σ² is learned per sample and code)."""

    def __init__(self, in_features: int = 1024, n_cat: int = 10, n_cont: int = 2, hidden: int = 128,
                 learn_var: bool = False):
        super().__init__()
        check_code_sizes(n_cat, n_cont)
        self.n_cat, self.n_cont, self.learn_var = int(n_cat), int(n_cont), bool(learn_var)
        out = self.n_cat + self.n_cont * (2 if learn_var else 1)
        self.net = nn.Sequential(nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.LeakyReLU(0.1, True), nn.Linear(hidden, out))
        dcgan_init(self)

    def forward(self, h: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        out = self.net(h)                                                       # (B, K + M [+ M])
        k, m = self.n_cat, self.n_cont
        logits = out[:, :k] if k else None
        mean = out[:, k:k + m] if m else None
        logvar = out[:, k + m:].clamp(-10.0, 10.0) if (m and self.learn_var) else None
        return logits, mean, logvar
