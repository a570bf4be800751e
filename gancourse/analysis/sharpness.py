"""Image sharpness: the variance of the Laplacian (notebook 15, VAE vs VAE-GAN).

The discrete Laplacian of an image u,

    Δu[i, j] = u[i−1, j] + u[i+1, j] + u[i, j−1] + u[i, j+1] − 4 u[i, j],

is large where the intensity bends sharply (edges, strokes) and near 0 where it changes
smoothly. Its variance over the pixels of one image,

    sharpness(u) = Var_{i,j}(Δu[i, j]),

is a standard blur measure (Pech-Pacheco et al., 2000): blurring an image lowers it, and a blurry
average of several digits scores far below a crisp one. Borders are mirrored (the pixel beyond
the edge is the one inside it: ``scipy.ndimage.laplace(u, mode="mirror")``), so a constant image
scores exactly 0. Images are
(N, C, H, W) tensors or arrays in any range; compare sets on the same range ([-1, 1] in the
course). For C > 1 the variance is taken over all channels' pixels together.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor

LAPLACE_KERNEL = torch.tensor([[0.0, 1.0, 0.0],
                               [1.0, -4.0, 1.0],
                               [0.0, 1.0, 0.0]])


def _as_images(images: Tensor | np.ndarray) -> Tensor:
    x = torch.as_tensor(images).detach().cpu().float()
    if x.ndim != 4 or len(x) == 0 or min(x.shape[2:]) < 2:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W) with H, W >= 2, got "
                         f"shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or inf")
    return x


def laplacian(images: Tensor | np.ndarray) -> Tensor:
    """Δu of every channel of (N, C, H, W) images, mirrored at the borders: (N, C, H, W)."""
    x = _as_images(images)
    n, c, h, w = x.shape
    padded = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="reflect")  # (N·C, 1, H+2, W+2)
    return F.conv2d(padded, LAPLACE_KERNEL.view(1, 1, 3, 3)).view(n, c, h, w)


def laplacian_variance(images: Tensor | np.ndarray) -> Tensor:
    """Per-image sharpness Var(Δu) (population variance over C·H·W pixels): (N,)."""
    return laplacian(images).flatten(1).var(dim=1, unbiased=False)


def sharpness(images: Tensor | np.ndarray) -> float:
    """Mean per-image :func:`laplacian_variance` of a set of images."""
    return float(laplacian_variance(images).mean())


def sharpness_ratio(images: Tensor | np.ndarray, reference: Tensor | np.ndarray) -> float:
    """:func:`sharpness` of ``images`` over that of ``reference`` (e.g. held-out real images):
    1 = as sharp as real, below 1 = blurrier."""
    ref = sharpness(reference)
    if ref <= 0:
        raise ValueError("the reference images have zero sharpness (constant images); pick "
                         "real images as the reference")
    return sharpness(images) / ref
