r"""Editing through z: attribute vectors and image completion (notebook 17).

**Attribute vectors** (Radford et al., 2016; Hung-yi Lee's "Photo Editing" lecture). Invert
images that have an attribute and images that lack it, and take the difference of the mean
codes,

.. math::

    v = \frac{1}{|A|}\sum_{x\in A} z(x) \;-\; \frac{1}{|\bar A|}\sum_{x\in \bar A} z(x),
    \qquad z' = z + \alpha\, v ,

where A holds the images whose *measured* attribute is in the top quantile and Ā those in the
bottom one (:func:`attribute_vector`). Editing moves a code along v by a strength α
(:func:`edit`); if v captures the attribute, the measured attribute of G(z + αv) grows with α
(:func:`attribute_slope`: the least-squares slope of the mean measured value against α). With
``labels`` the difference is taken within each class and averaged (weights: the smaller of the
two group sizes), so that an attribute that differs between classes (e.g. ink: a 1 has less
than an 8) does not turn v into a class-changing direction.

**Completion** (Yeh et al., 2017, "Semantic Image Inpainting with Deep Generative Models").
Part of an image is hidden (mask M = 1 on the known pixels). Search the code that explains the
known part while staying where G is realistic,

.. math::

    \hat z = \arg\min_z\ \underbrace{\mathcal L_c(z \mid x, M)}_{\text{context}}
    + \lambda\, \underbrace{\mathcal L_p(z)}_{\text{realism prior}},
    \qquad \hat x = M \odot x + (1 - M) \odot G(\hat z),

here with the masked squared error as context loss and the Gaussian prior ½‖z‖² as realism
prior (Yeh et al. use an importance-weighted L1 context and log(1 − D(G(z))); the notebook's
exercise writes their weighted context loss). :func:`complete` = search starts by brute force
over a pool of G's samples (:func:`~gancourse.analysis.inversion.nearest_codes`), then
:func:`~gancourse.analysis.inversion.invert` with the mask, then the blend. :func:`half_mask`
builds the masks, :func:`fill` the baselines (fill the hole with the mean image, or blank).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from gancourse.analysis.inversion import Inversion, invert, nearest_codes

HALVES = ("top", "bottom", "left", "right")


def _codes(z: torch.Tensor, name: str = "codes") -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point() or len(z) == 0:
        raise ValueError(f"{name} must be a non-empty float tensor (N, D), got "
                         f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
    return z


def attribute_vector(codes: torch.Tensor, values: torch.Tensor | np.ndarray, quantile: float = 0.25,
                     labels: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """v = mean code of the top ``quantile`` of ``values`` − mean code of the bottom one: (D,).

    ``codes`` (N, D): codes of images (e.g. inverted real images); ``values`` (N,): the
    attribute measured on those images. With ``labels`` (N,) the groups are formed and
    differenced within each class, and the class differences averaged with weights
    min(|top|, |bottom|) (classes with fewer than 2 codes in a group are skipped)."""
    codes = _codes(codes)
    v = torch.as_tensor(np.asarray(values), dtype=codes.dtype).flatten()
    if len(v) != len(codes) or not torch.isfinite(v).all():
        raise ValueError(f"values must be {len(codes)} finite numbers (one per code), got {tuple(v.shape)}")
    if not 0 < quantile <= 0.5:
        raise ValueError(f"quantile must be in (0, 0.5], got {quantile}")
    groups = [torch.arange(len(codes))]
    if labels is not None:
        y = torch.as_tensor(np.asarray(labels)).flatten()
        if len(y) != len(codes) or y.is_floating_point():
            raise ValueError(f"labels must be {len(codes)} integers, got {y.dtype} {tuple(y.shape)}")
        groups = [torch.nonzero(y == k).flatten() for k in torch.unique(y)]
    diffs, weights = [], []
    for idx in groups:
        n = int(len(idx) * quantile)
        if n < 2:
            continue
        order = idx[v[idx].argsort()]                            # ascending attribute
        diffs.append(codes[order[-n:]].mean(0) - codes[order[:n]].mean(0))
        weights.append(float(n))
    if not diffs:
        raise ValueError(f"too few codes: the {quantile:.0%} quantile holds fewer than 2 codes in "
                         f"every group")
    w = torch.tensor(weights, dtype=codes.dtype)
    return (torch.stack(diffs) * w[:, None]).sum(0) / w.sum()    # (D,)


def edit(z: torch.Tensor, direction: torch.Tensor, strengths: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """z + α · direction for every strength α: (S, N, D) from codes (N, D) and S strengths."""
    z = _codes(z, "z")
    if direction.shape != (z.shape[1],):
        raise ValueError(f"direction must be one vector of size {z.shape[1]}, got {tuple(direction.shape)}")
    a = torch.as_tensor(strengths, dtype=z.dtype).flatten()
    if len(a) == 0 or not torch.isfinite(a).all():
        raise ValueError("strengths must be a non-empty list of finite numbers")
    return z[None] + a[:, None, None] * direction.to(z.dtype)[None, None]


def attribute_slope(strengths: Sequence[float] | torch.Tensor, values: torch.Tensor | np.ndarray) -> float:
    """Least-squares slope of the mean measured attribute against the edit strength.

    ``values`` (S, N): the attribute measured on G(z + α_s v) for S strengths α_s and N codes
    (or (S,) means). slope = Σ_s (α_s − ᾱ)(m_s − m̄) / Σ_s (α_s − ᾱ)², m_s the mean over N."""
    a = torch.as_tensor(strengths, dtype=torch.float64).flatten()
    m = torch.as_tensor(np.asarray(values), dtype=torch.float64)
    m = m.mean(1) if m.ndim == 2 else m
    if m.shape != a.shape or len(a) < 2 or a.std() == 0:
        raise ValueError(f"need values (S, N) or (S,) for S = {len(a)} >= 2 distinct strengths, got "
                         f"{tuple(m.shape)}")
    da = a - a.mean()
    return float((da * (m - m.mean())).sum() / da.square().sum())


def half_mask(n: int, image_size: int = 28, keep: str = "top", channels: int = 1) -> torch.Tensor:
    """Masks (n, channels, H, W): 1 on the kept (known) half, 0 on the hidden one.
    ``keep="top"`` hides the bottom half (rows H//2 and below)."""
    if keep not in HALVES:
        raise ValueError(f"unknown half {keep!r}; valid: {', '.join(HALVES)}")
    if int(n) < 1 or int(image_size) < 2:
        raise ValueError(f"need n >= 1 and image_size >= 2, got {n} and {image_size}")
    m = torch.zeros(int(n), channels, image_size, image_size)
    h = image_size // 2
    region = {"top": (slice(None, h), slice(None)), "bottom": (slice(h, None), slice(None)),
              "left": (slice(None), slice(None, h)), "right": (slice(None), slice(h, None))}[keep]
    m[:, :, region[0], region[1]] = 1.0
    return m


def fill(x: torch.Tensor, mask: torch.Tensor, content: torch.Tensor | float) -> torch.Tensor:
    """M ⊙ x + (1 − M) ⊙ content: the known pixels of x, the hole filled with ``content``
    (an image (C, H, W) or (N, C, H, W), e.g. the mean training image, or a number: −1 is
    blank background)."""
    if x.ndim != 4:
        raise ValueError(f"x must be images (N, C, H, W), got {tuple(x.shape)}")
    mask = torch.as_tensor(mask, dtype=x.dtype)
    content = torch.as_tensor(content, dtype=x.dtype)
    try:
        return mask * x + (1 - mask) * torch.broadcast_to(content, x.shape)
    except RuntimeError as err:
        raise ValueError(f"mask {tuple(mask.shape)} or content {tuple(content.shape)} does not fit "
                         f"the images {tuple(x.shape)}") from err


def complete(netG: nn.Module, x: torch.Tensor, mask: torch.Tensor, pool: tuple[torch.Tensor, torch.Tensor],
             starts: int = 4, steps: int = 100, lr: float = 0.05, prior_weight: float = 1e-3,
             seed: int = 0, progress: bool = False) -> tuple[torch.Tensor, Inversion]:
    """Complete the hidden part (mask = 0) of each image with G.

    Starts: the codes of the ``starts`` pool images (``pool`` = (codes, G(codes))) nearest to x
    on the known pixels; each start is refined by :func:`~gancourse.analysis.inversion.invert`
    on the context loss (masked MSE) + ``prior_weight`` · ½‖z‖², and the start with the lowest
    final objective kept. Returns (blend M ⊙ x + (1 − M) ⊙ G(ẑ) (N, C, H, W), the Inversion)."""
    pool_z, pool_images = pool
    if int(starts) < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    mask = torch.broadcast_to(torch.as_tensor(mask, dtype=x.dtype), x.shape)
    n, k = len(x), int(starts)
    near = nearest_codes(pool_z, pool_images, x, mask, k=k)                           # (N, S, D)
    inv = invert(netG, x.repeat(k, 1, 1, 1), z0=near.transpose(0, 1).reshape(k * n, -1), steps=steps,
                 lr=lr, prior_weight=prior_weight, mask=mask.repeat(k, 1, 1, 1), seed=seed,
                 progress=progress)                                                   # start-major
    objective = (inv.error + prior_weight * 0.5 * inv.z.square().sum(1)).view(k, n)
    rows = objective.argmin(0) * n + torch.arange(n)                                  # best start per image
    best = Inversion(z=inv.z[rows], images=inv.images[rows], error=inv.error[rows], curve=inv.curve)
    return fill(x, mask, best.images), best
