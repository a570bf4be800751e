r"""Back to z: invert a trained generator by optimisation, with an encoder, or both (notebook 17).

A generator G maps a code z to an image; inverting it means finding, for a given image x, the
code whose image is closest to x (Zhu et al., 2016, "Generative Visual Manipulation on the
Natural Image Manifold"):

.. math::

    z^* = \arg\min_z\ \mathcal L\big(G(z), x\big) + \lambda\,\tfrac12\lVert z\rVert^2 ,
    \qquad \mathcal L(G(z), x) = \frac{1}{\sum_i M_i}\sum_i M_i\,\big(G(z)_i - x_i\big)^2 .

``M`` is a mask of the pixels that count (all ones for a plain inversion; the visible part of
the image for completion, Yeh et al., 2017) and ½‖z‖² the negative log-density of the prior
z ~ N(0, I) up to a constant, which keeps z where G was trained. Three ways to get z*:

* **optimisation** (:func:`invert`): gradient descent on z from a random start. G's weights
  are frozen; the loss of each image depends only on its own code, so a batch of images is
  inverted at once. Slow (hundreds of passes through G) and it can stop in a local minimum.
* **encoder** (:func:`train_encoder`, :func:`encode`): a network E trained once on pairs
  (z, G(z)) that G itself produces, a supervised regression ``min_E E_z ‖E(G(z)) − z‖²``;
  then z* ≈ E(x) costs one forward pass. E only ever saw G's images, so on real images it is
  a guess, not a minimiser.
* **hybrid** (``invert(..., z0=encode(E, x))``): the encoder's guess as the starting point of
  the optimisation (iGAN's choice). It reaches a given error in fewer steps.

:func:`nearest_codes` gives another kind of start: the codes of the pool images (G's samples)
closest to x on the pixels that count.

Images are (N, C, H, W) in [-1, 1]; codes (N, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from gancourse.analysis.latent import generate


@dataclass
class Inversion:
    """What :func:`invert` found: codes ``z`` (N, D), their images ``images`` = G(z)
    (N, C, H, W), the final masked pixel error ``error`` (N,) (without the prior) and
    ``curve`` (steps + 1,), the mean masked pixel error over the batch before each step and
    after the last one."""

    z: torch.Tensor
    images: torch.Tensor
    error: torch.Tensor
    curve: torch.Tensor


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point() or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty float tensor (N, C, H, W), got "
                         f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")


def _check_mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """The mask as a float tensor broadcastable to x, with at least one counted pixel per image."""
    if mask is None:
        return torch.ones(1, 1, 1, 1, dtype=x.dtype)
    mask = torch.as_tensor(mask, dtype=x.dtype)
    try:
        full = torch.broadcast_to(mask, x.shape)
    except RuntimeError as err:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the images "
                         f"{tuple(x.shape)}") from err
    if ((mask != 0) & (mask != 1)).any():
        raise ValueError("mask must hold 0 (hidden pixel) and 1 (known pixel) only")
    if (full.flatten(1).sum(1) == 0).any():
        raise ValueError("every image needs at least one known pixel (mask = 1) to fit")
    return mask


def masked_mse(images: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image mean squared error over the pixels where ``mask`` is 1: (N,).

    Σ_i M_i (images_i − x_i)² / Σ_i M_i; with ``mask=None`` the plain per-image MSE."""
    if images.shape != x.shape:
        raise ValueError(f"images and x must have the same shape, got {tuple(images.shape)} and "
                         f"{tuple(x.shape)}")
    _check_images(x)
    m = torch.broadcast_to(_check_mask(mask, x).to(x.device), x.shape)
    return ((images - x) ** 2 * m).flatten(1).sum(1) / m.flatten(1).sum(1)      # (N,)


def invert(netG: nn.Module, x: torch.Tensor, z0: torch.Tensor | None = None, steps: int = 200,
           lr: float = 0.05, prior_weight: float = 0.0, mask: torch.Tensor | None = None,
           starts: int = 1, seed: int = 0, batch_size: int = 256,
           progress: bool = False) -> Inversion:
    r"""Find z minimising masked_mse(G(z), x, mask) + λ ½‖z‖² by Adam on z (G frozen, eval mode).

    ``x``: images (N, C, H, W). ``z0``: starting codes (N, D), or None for ``starts`` random
    codes per image drawn from N(0, I) with ``seed``; with several starts each is optimised and
    the one with the lowest final objective is kept. ``mask``: 1 on the pixels that count,
    broadcastable to x (None: all). ``prior_weight`` is λ. Returns an :class:`Inversion`.
    G's ``requires_grad`` flags and train/eval mode are restored afterwards.
    """
    _check_images(x)
    if int(steps) < 0 or not lr > 0 or prior_weight < 0 or int(starts) < 1:
        raise ValueError(f"need steps >= 0, lr > 0, prior_weight >= 0 and starts >= 1; got steps={steps}, "
                         f"lr={lr}, prior_weight={prior_weight}, starts={starts}")
    mask = _check_mask(mask, x)
    z_dim = int(getattr(netG, "z_dim", 0)) or (z0.shape[1] if z0 is not None else 0)
    if z0 is not None:
        if z0.ndim != 2 or len(z0) != len(x) or (z_dim and z0.shape[1] != z_dim):
            raise ValueError(f"z0 must be one code per image, shape ({len(x)}, {z_dim or 'D'}), got "
                             f"{tuple(z0.shape)}")
        if starts != 1:
            raise ValueError("give either starting codes z0 or several random starts, not both")
        z_start = z0.detach().float().cpu()
    else:
        if not z_dim:
            raise ValueError("netG has no z_dim attribute: pass the starting codes z0")
        g = torch.Generator().manual_seed(seed)
        z_start = torch.randn(starts, len(x), z_dim, generator=g).reshape(-1, z_dim)   # start-major
    device = next(netG.parameters()).device
    flags = [p.requires_grad for p in netG.parameters()]
    was_training = netG.training
    netG.eval().requires_grad_(False)
    targets = x.detach().float().cpu().repeat(starts, 1, 1, 1)                          # (S·N, C, H, W)
    m_all = torch.broadcast_to(mask, x.shape).repeat(starts, 1, 1, 1)
    z_out, err_out, curves = [], [], []
    try:
        chunks = list(zip(z_start.split(batch_size), targets.split(batch_size), m_all.split(batch_size)))
        for zc, xc, mc in tqdm(chunks, desc="inverting", disable=not progress):
            z = zc.to(device).clone().requires_grad_(True)
            xc, mc = xc.to(device), mc.to(device)
            opt = torch.optim.Adam([z], lr=lr)
            curve = []
            for _ in range(int(steps)):
                err = masked_mse(netG(z), xc, mc)                                       # (b,)
                curve.append(err.detach().sum().cpu())
                loss = (err + prior_weight * 0.5 * z.square().sum(1)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                err = masked_mse(netG(z), xc, mc)
            curve.append(err.sum().cpu())
            z_out.append(z.detach().cpu())
            err_out.append(err.cpu())
            curves.append(torch.stack(curve))
    finally:
        for p, flag in zip(netG.parameters(), flags):
            p.requires_grad_(flag)
        netG.train(was_training)
    z_all, err_all = torch.cat(z_out), torch.cat(err_out)                               # (S·N, D), (S·N,)
    curve = torch.stack(curves).sum(0) / len(z_all)                                     # (steps + 1,)
    objective = (err_all + prior_weight * 0.5 * z_all.square().sum(1)).view(starts, len(x))
    best = objective.argmin(0)                                                          # (N,)
    rows = best * len(x) + torch.arange(len(x))
    z_best = z_all[rows]
    return Inversion(z=z_best, images=generate(netG, z_best), error=err_all[rows], curve=curve)


@torch.no_grad()
def sample_pairs(netG: nn.Module, n: int, seed: int = 0,
                 batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pairs (z, G(z)) with z ~ N(0, I) from ``seed``: codes (n, D) and images (n, C, H, W),
    G in eval mode. The encoder's training set, and a pool for :func:`nearest_codes`."""
    if int(n) < 1 or not getattr(netG, "z_dim", 0):
        raise ValueError(f"need n >= 1 and a generator with a z_dim attribute, got n={n}")
    z = torch.randn(int(n), netG.z_dim, generator=torch.Generator().manual_seed(seed))
    return z, generate(netG, z, batch_size)


def train_encoder(encoder: nn.Module, z: torch.Tensor, images: torch.Tensor, steps: int = 2000,
                  batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                  progress: bool = False) -> list[float]:
    """Fit E(G(z)) ≈ z on the pairs (``z`` (N, D), ``images`` = G(z) (N, C, H, W)): Adam on
    the squared code error ‖E(x) − z‖² (summed over D, averaged over the batch), minibatches
    drawn with ``seed``, the rate falling linearly to 0 over the second half. A supervised
    regression (one network, one optimiser), not a GAN. Returns the loss of every step; the
    encoder is left in eval mode on its device."""
    _check_images(images, "images")
    if z.ndim != 2 or len(z) != len(images):
        raise ValueError(f"z must hold one code per image, shape ({len(images)}, D), got {tuple(z.shape)}")
    if int(steps) < 1 or int(batch_size) < 2 or not lr > 0:
        raise ValueError(f"need steps >= 1, batch_size >= 2 and lr > 0, got {steps}, {batch_size}, {lr}")
    device = next(encoder.parameters()).device
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.5, 0.999))
    half = max(1, int(steps) // 2)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 1.0 if k < int(steps) - half else max(0.0, (int(steps) - k) / half))
    g = torch.Generator().manual_seed(seed)
    encoder.train()
    losses = []
    for _ in tqdm(range(int(steps)), desc="encoder", disable=not progress):
        idx = torch.randint(len(z), (int(batch_size),), generator=g)
        xb, zb = images[idx].to(device), z[idx].to(device)
        loss = (encoder(xb) - zb).square().sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    encoder.eval()
    return losses


@torch.no_grad()
def encode(encoder: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """E(x) for images (N, C, H, W) in eval mode, on the CPU: codes (N, D). The module's mode
    is restored afterwards."""
    _check_images(x)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        out = [encoder(chunk.to(device)).float().cpu() for chunk in x.split(batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(out)                                                               # (N, D)


def nearest_codes(pool_z: torch.Tensor, pool_images: torch.Tensor, x: torch.Tensor,
                  mask: torch.Tensor | None = None, k: int = 1) -> torch.Tensor:
    """Codes of the ``k`` pool images closest to each x on the pixels where ``mask`` is 1
    (masked MSE): (N, k, D), nearest first. A search over z by brute force: a cheap start for
    :func:`invert` when no encoder fits (e.g. half an image)."""
    _check_images(x)
    if pool_images.shape[1:] != x.shape[1:] or len(pool_z) != len(pool_images):
        raise ValueError(f"pool: {len(pool_z)} codes and images {tuple(pool_images.shape)} do not fit "
                         f"each other or the images {tuple(x.shape)}")
    if not 1 <= int(k) <= len(pool_z):
        raise ValueError(f"k must be in [1, {len(pool_z)}], got {k}")
    m = torch.broadcast_to(_check_mask(mask, x), x.shape)                                # (N, C, H, W)
    pool = pool_images.flatten(1)                                                       # (P, C·H·W)
    out = []
    for xc, mc in zip(x.split(200), m.split(200)):
        xf, mf = xc.flatten(1), mc.flatten(1)                                           # (b, C·H·W)
        # Σ m (p − x)² = Σ m p² − 2 Σ m p x + Σ m x²  for every (image, pool) pair
        d = (mf @ pool.square().T) - 2 * ((mf * xf) @ pool.T) + (mf * xf.square()).sum(1, keepdim=True)
        out.append(d.topk(int(k), dim=1, largest=False).indices)                        # (b, k)
    return pool_z[torch.cat(out)]                                                       # (N, k, D)
