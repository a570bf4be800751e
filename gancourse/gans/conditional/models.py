"""Class-conditional generator and discriminators for small images (28, 32 or 64 px).

All three take the class label ``y`` (long tensor (B,), values in 0..K-1) next to their usual
input: ``netG(z, y)`` -> images (B, C, H, W) in [-1, 1], ``netD(x, y)`` -> raw scores (B,).

* :class:`ConditionalGenerator` — a DCGAN generator fed the concatenation [z, e(y)] of the
  noise and a learned label embedding e(y) (Mirza & Osindero, 2014, with an embedding in
  place of the one-hot code). :meth:`~ConditionalGenerator.from_embedding` takes the
  embedding directly, so two classes can be blended: G(z, (1 - t) e(a) + t e(b)).
* :class:`ConcatDiscriminator` — the condition enters at the input: K one-hot *label maps*
  (channel k is 1 everywhere when y = k, else 0) are stacked onto the image, and a DCGAN
  discriminator scores the (C + K)-channel result: D(x, y) = f([x, onehot(y) ⊗ 1_{H×W}]).
* :class:`ProjectionDiscriminator` — Miyato & Koyama (2018): a feature extractor
  φ(x) ∈ R^F (here the DCGAN discriminator's flattened last feature map), a linear realism
  head ψ and a class embedding V,

      D(x, y) = ψ(φ(x)) + V(y)·φ(x),

  where ψ(φ(x)) (``realism``) does not see the label and V(y)·φ(x) (``match``) scores how well
  the image fits class y. The form follows from writing the optimal logit as
  log p(x)/q(x) + log p(y|x)/q(y|x) with softmax class models on φ(x).
  :meth:`~ProjectionDiscriminator.parts` returns the two terms separately.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator


def check_labels(y: torch.Tensor, num_classes: int, batch: int) -> None:
    """Raise ValueError unless ``y`` is an integer tensor (batch,) with values in 0..K-1.

    The value range is checked for CPU tensors only (checking it on a GPU would wait for the
    device at every call; there an out-of-range label fails inside the embedding instead).
    """
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be an integer (long) tensor of class indices, got "
                         f"{getattr(y, 'dtype', type(y).__name__)}")
    if tuple(y.shape) != (batch,):
        raise ValueError(f"labels must have shape ({batch},) to match the batch, got "
                         f"{tuple(y.shape)}")
    if y.device.type == "cpu" and batch and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] ({num_classes} classes), "
                         f"got values in [{int(y.min())}, {int(y.max())}]")


def _check_num_classes(num_classes: int) -> None:
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2 for a class-conditional model, got {num_classes}")


class ConditionalGenerator(nn.Module):
    """G(z, y) = DCGAN([z, e(y)]): z (B, z_dim) and labels (B,) -> images (B, C, H, W).

    ``embed_dim`` is the size of the learned label embedding e (default: ``num_classes``).
    """

    def __init__(self, z_dim: int = 100, num_classes: int = 10, channels: int = 1,
                 image_size: int = 28, ngf: int = 64, embed_dim: int | None = None):
        super().__init__()
        _check_num_classes(num_classes)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.channels, self.image_size = channels, image_size
        self.embed_dim = embed_dim or num_classes
        self.embed = nn.Embedding(num_classes, self.embed_dim)          # e: class -> R^E
        self.body = DCGANGenerator(z_dim + self.embed_dim, channels, image_size, ngf)

    def from_embedding(self, z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """G on an explicit embedding ``e`` (B, embed_dim), e.g. a blend of two classes."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        if tuple(e.shape) != (z.shape[0], self.embed_dim):
            raise ValueError(f"the embedding must have shape ({z.shape[0]}, {self.embed_dim}), "
                             f"got {tuple(e.shape)}")
        return self.body(torch.cat([z, e.to(z.dtype)], dim=1))           # (B, C, H, W)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_labels(y, self.num_classes, z.shape[0])
        return self.from_embedding(z, self.embed(y))                     # (B, C, H, W)


class _ConditionalDiscriminatorBase(nn.Module):
    def __init__(self, num_classes: int, channels: int, image_size: int):
        super().__init__()
        _check_num_classes(num_classes)
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size

    def _check(self, x: torch.Tensor, y: torch.Tensor) -> None:
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"discriminator expects images of shape "
                             f"(B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        check_labels(y, self.num_classes, x.shape[0])


class ConcatDiscriminator(_ConditionalDiscriminatorBase):
    """D(x, y) = f([x, label maps]): the condition concatenated to the input as K channels.

    Channel C + k of the input is 1 everywhere when y = k and 0 otherwise; f is a
    :class:`~gancourse.models.dcgan.DCGANDiscriminator` with C + K input channels.
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, image_size: int = 28,
                 ndf: int = 64, norm: str | None = "batch"):
        super().__init__(num_classes, channels, image_size)
        self.body = DCGANDiscriminator(channels + num_classes, image_size, ndf, norm)

    def label_maps(self, y: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(B,) labels -> (B, K, H, W) one-hot maps."""
        s = self.image_size
        return F.one_hot(y, self.num_classes).to(dtype)[:, :, None, None].expand(-1, -1, s, s)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self._check(x, y)
        maps = self.label_maps(y, x.dtype)                                # (B, K, H, W)
        if x.is_contiguous(memory_format=torch.channels_last):
            maps = maps.contiguous(memory_format=torch.channels_last)
        return self.body(torch.cat([x, maps], dim=1))                     # (B,)


class ProjectionDiscriminator(_ConditionalDiscriminatorBase):
    """D(x, y) = ψ(φ(x)) + V(y)·φ(x) (Miyato & Koyama, 2018), on a DCGAN discriminator.

    φ(x) ∈ R^F is the DCGAN discriminator's last feature map, flattened (F = width · s · s,
    e.g. 2·ndf · 7 · 7 at 28 px); ψ is its usual head, a convolution over the whole map, i.e. a
    linear map R^F -> R, so ψ(φ(x)) is exactly an unconditional DCGAN discriminator; V is an
    embedding of the K classes in R^F. The label costs K · F parameters and one inner product.
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, image_size: int = 28,
                 ndf: int = 64, norm: str | None = "batch"):
        super().__init__(num_classes, channels, image_size)
        trunk = DCGANDiscriminator(channels, image_size, ndf, norm)
        self.features, self.psi = trunk.features, trunk.head              # (B, W, s, s) -> (B, 1, 1, 1)
        self.feature_dim = trunk.head.in_channels * trunk.head.kernel_size[0] ** 2
        self.embed = nn.Embedding(num_classes, self.feature_dim)           # V, one row per class
        nn.init.normal_(self.embed.weight, 0.0, 0.02)                      # like the DCGAN weights

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): (B, C, H, W) -> (B, F), the flattened last feature map."""
        return self.features(x).flatten(1)

    def parts(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(realism ψ(φ(x)), match V(y)·φ(x)), each (B,); D(x, y) is their sum."""
        self._check(x, y)
        fmap = self.features(x)                                            # (B, W, s, s)
        realism = self.psi(fmap).flatten()                                 # (B,)
        match = (self.embed(y).to(fmap.dtype) * fmap.flatten(1)).sum(dim=1)  # (B,)
        return realism, match

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        realism, match = self.parts(x, y)
        return realism + match                                             # (B,)
