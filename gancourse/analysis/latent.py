"""Latent-space helpers: interpolation paths and class-mean vector arithmetic.

A generator maps latent codes z in R^D to images; walking through z-space shows what it has
learned. Interpolation (:func:`lerp`, :func:`slerp`, :func:`interpolate`) draws the images
between two codes; arithmetic on class means (:func:`class_means`, :func:`transfer`) moves a
code from one class to another, as in Radford et al. (2016), "vector arithmetic on face
samples". :func:`generate` decodes codes with the generator in eval mode, so that batch norm
uses its running statistics and an image does not depend on the other codes in its batch.

Codes are float tensors (..., D); the last dimension is the latent one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

METHODS = ("lerp", "slerp")


def _check_pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    for name, z in (("z0", z0), ("z1", z1)):
        if not isinstance(z, torch.Tensor) or z.ndim == 0 or not z.is_floating_point():
            raise ValueError(f"{name} must be a float tensor (..., D), got "
                             f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} and "
                         f"{tuple(z1.shape)}")


def _as_t(t: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` as a tensor that broadcasts against codes (..., D): a float gives shape (1,)*ndim,
    a 1-D tensor (T,) gives (T, 1, ..., 1) so that results have shape (T, ..., D)."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim > 1:
        raise ValueError(f"t must be a number or a 1-D tensor of positions, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("t must be finite")
    return t.reshape(-1, *([1] * like.ndim)) if t.ndim == 1 else t


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Linear interpolation z(t) = (1 - t) z0 + t z1.

    ``z0``, ``z1``: codes of one shape (..., D). ``t``: a number (result shaped like z0) or a
    1-D tensor (T,) of positions (result (T, ..., D)); t = 0 gives z0, t = 1 gives z1.
    """
    _check_pair(z0, z1)
    t = _as_t(t, z0)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor,
          eps: float = 1e-6) -> torch.Tensor:
    """Spherical linear interpolation (Shoemake, 1985; White, 2016, for GAN latents).

        cos Ω = <z0, z1> / (|z0| |z1|)
        z(t)  = sin((1 - t) Ω) / sin Ω · z0  +  sin(t Ω) / sin Ω · z1

    For unit vectors z(t) moves along the great circle at constant speed, so |z(t)| = 1 for
    every t; for codes of equal norm r it stays on the sphere of radius r. Linear interpolation
    instead cuts through the inside of the sphere: for two independent N(0, I) codes in high
    dimension (nearly orthogonal, |z| ≈ √D) its midpoint has norm ≈ √(D/2), a region the
    generator never saw in training. Shapes and ``t`` as in :func:`lerp`; the angle is taken
    per code along the last dimension.

    When Ω < ``eps`` (parallel codes) the formula is 0/0 and its limit, :func:`lerp`, is used.
    Opposite codes (Ω = π) have no unique great circle and raise ValueError, as do zero codes.
    """
    _check_pair(z0, z1)
    n0, n1 = z0.norm(dim=-1, keepdim=True), z1.norm(dim=-1, keepdim=True)   # (..., 1)
    if (n0 == 0).any() or (n1 == 0).any():
        raise ValueError("slerp needs non-zero codes: the angle to a zero vector is undefined")
    cos = ((z0 / n0) * (z1 / n1)).sum(-1, keepdim=True).clamp(-1.0, 1.0)    # (..., 1)
    omega = torch.arccos(cos)
    if (omega > math.pi - eps).any():
        raise ValueError("z0 and z1 point in opposite directions (angle π): every great circle "
                         "joins them, so slerp is undefined; perturb one of them")
    t = _as_t(t, z0)
    parallel = omega < eps
    safe = torch.where(parallel, torch.ones_like(omega), omega)             # avoid 0/0
    w0 = torch.sin((1 - t) * safe) / torch.sin(safe)
    w1 = torch.sin(t * safe) / torch.sin(safe)
    return torch.where(parallel, (1 - t) * z0 + t * z1, w0 * z0 + w1 * z1)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int,
                method: str = "slerp") -> torch.Tensor:
    """``steps`` evenly spaced codes from z0 to z1 (both included): (steps, ..., D).

    ``method`` is ``"slerp"`` (default, see :func:`slerp`) or ``"lerp"``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods are {', '.join(METHODS)}")
    if int(steps) < 2:
        raise ValueError(f"steps must be >= 2 (the two end points), got {steps}")
    t = torch.linspace(0.0, 1.0, int(steps))
    return (slerp if method == "slerp" else lerp)(z0, z1, t)


def class_means(z: torch.Tensor, labels: torch.Tensor,
                num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean code per class: means[k] = (1 / n_k) sum_{i: y_i = k} z_i, and the counts n_k.

    ``z``: codes (N, D); ``labels``: integer classes (N,) in [0, num_classes), e.g. the judge
    classifier's predictions for G(z). Returns (means (K, D), counts (K,)); a class with no
    code has count 0 and a row of NaN, so that using it by mistake shows.
    """
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point():
        raise ValueError(f"z must be a float tensor (N, D), got {tuple(getattr(z, 'shape', ()))}")
    labels = torch.as_tensor(labels, device=z.device)
    if labels.shape != (len(z),) or labels.is_floating_point():
        raise ValueError(f"labels must be integers of shape ({len(z)},), got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    if num_classes < 1 or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] with num_classes >= 1")
    counts = torch.bincount(labels.long(), minlength=num_classes)                   # (K,)
    sums = torch.zeros(num_classes, z.shape[1], dtype=z.dtype, device=z.device)
    sums.index_add_(0, labels.long(), z)                                            # (K, D)
    return sums / counts.unsqueeze(1).to(z.dtype), counts


def transfer(z: torch.Tensor, means: torch.Tensor, source: int, target: int,
             strength: float = 1.0) -> torch.Tensor:
    """Vector arithmetic z' = z + s · (means[target] - means[source]).

    With ``z`` codes of class ``source`` this is "z - mean(source) + mean(target)": keep what
    sets z apart from its class (its style, if the generator separates it) and swap the class.
    ``z``: (..., D); ``means``: (K, D) from :func:`class_means`; ``strength`` s scales the step.
    """
    if means.ndim != 2 or z.shape[-1] != means.shape[1]:
        raise ValueError(f"means must be (K, D) with D = z.shape[-1] = {z.shape[-1]}, got "
                         f"{tuple(means.shape)}")
    for name, k in (("source", source), ("target", target)):
        if not 0 <= k < len(means):
            raise ValueError(f"{name} class {k} is outside [0, {len(means) - 1}]")
        if not torch.isfinite(means[k]).all():
            raise ValueError(f"{name} class {k} has no mean (no code of that class)")
    return z + strength * (means[target] - means[source])


@torch.no_grad()
def generate(netG: nn.Module, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """G(z) for codes (N, D) in eval mode (batch norm uses running statistics), on the CPU.

    Eval mode makes each image a function of its own code only: in train mode batch norm
    normalises with the statistics of the batch, so an interpolation path (a batch of very
    similar codes) would change the images. The module's mode is restored afterwards.
    """
    if z.ndim != 2:
        raise ValueError(f"z must be codes (N, D), got shape {tuple(z.shape)}")
    device = next(netG.parameters()).device
    was_training = netG.training
    netG.eval()
    try:
        out = [netG(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)]
    finally:
        netG.train(was_training)
    return torch.cat(out)                                                           # (N, C, H, W)
