"""Reading a WGAN critic as a Wasserstein-1 estimate (notebook 08).

Kantorovich–Rubinstein duality:

    W1(P, Q) = sup_{‖f‖_L ≤ 1}  E_{x~P}[f(x)] - E_{y~Q}[f(y)].

A WGAN critic ``f`` trained on real (P) and fake (Q) samples gives the *gap*
``E_P f - E_Q f``; if ``f`` is K-Lipschitz, ``gap / K`` is a lower bound on W1. Weight
clipping only makes ``f`` K-Lipschitz for some unknown K (fixed by the clip value and the
architecture), so :func:`w1_estimate` divides the gap by the largest input-gradient norm
K̂ = max ‖∇_x f‖ seen on the real points, the fake points and random points between them
(K̂ ≤ Lip(f), so the result is the critic rescaled to slope at most 1 where it matters).

* :func:`kantorovich_potential_1d` - the optimal critic between two 1D samples in closed form:
  f' = sign(G - F) (F, G the empirical CDFs of P, Q), so E_P f - E_Q f = ∫|F - G| = W1.
* :func:`critic_gap`, :func:`lipschitz_scale`, :func:`w1_estimate` - a critic's estimate.
* :class:`EMTracker` - a :class:`~gancourse.training.GANTrainer` callback that records the
  critic's estimate next to the exact EM distance (POT) between generated and real points.
* :func:`correlations` - Pearson and Spearman correlation of two series (scipy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from torch import nn

from gancourse.divergences.transport import emd_point_clouds

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- 1D closed form
def _samples_1d(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1D array of finite samples; got shape "
                         f"{arr.shape}")
    return arr


def kantorovich_potential_1d(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """The optimal 1-Lipschitz critic between samples ``x`` ~ P (n,) and ``y`` ~ Q (m,).

    Integrating by parts, E_P f - E_Q f = ∫ f'(t) (G(t) - F(t)) dt with F, G the empirical
    CDFs of x and y; with |f'| ≤ 1 this is largest for f'(t) = sign(G(t) - F(t)), and then
    equals ∫ |F - G| dt = W1. Returns knots ``(t, f)``: the sorted pooled samples and f there
    (f(t_0) = 0); f is linear between knots (slope ±1, or 0 where F = G) and constant
    outside, so ``np.interp(points, t, f)`` evaluates it anywhere.
    """
    x, y = _samples_1d(x, "x"), _samples_1d(y, "y")
    t = np.sort(np.concatenate([x, y]))                                   # (n + m,)
    cdf_x = np.searchsorted(np.sort(x), t[:-1], side="right") / x.size   # F on [t_k, t_k+1)
    cdf_y = np.searchsorted(np.sort(y), t[:-1], side="right") / y.size   # G on [t_k, t_k+1)
    slope = np.sign(cdf_y - cdf_x)
    f = np.concatenate([[0.0], np.cumsum(slope * np.diff(t))])
    return t, f


def dual_value_1d(x: Any, y: Any) -> float:
    """E_P f* - E_Q f* for the potential of :func:`kantorovich_potential_1d` (= W1(x, y))."""
    x, y = _samples_1d(x, "x"), _samples_1d(y, "y")
    t, f = kantorovich_potential_1d(x, y)
    return float(np.interp(x, t, f).mean() - np.interp(y, t, f).mean())


# ----------------------------------------------------------------------------- critic estimates
def _check_pair(real: Tensor, fake: Tensor) -> None:
    if real.ndim < 2 or real.shape[1:] != fake.shape[1:] or len(real) == 0 or len(fake) == 0:
        raise ValueError(f"real and fake must be non-empty batches (B, ...) of the same sample "
                         f"shape; got {tuple(real.shape)} and {tuple(fake.shape)}")


@torch.no_grad()
def critic_gap(netD: nn.Module, real: Tensor, fake: Tensor) -> float:
    """E[f(real)] - E[f(fake)]: minus the WGAN critic loss, on the given batches."""
    _check_pair(real, fake)
    return float(netD(real).float().mean() - netD(fake).float().mean())


def lipschitz_scale(netD: nn.Module, real: Tensor, fake: Tensor,
                    generator: torch.Generator | None = None) -> float:
    """K̂ = max ‖∇_x f(x)‖₂ over the real points, the fake points and one random point
    between each pair (x̂ = ε x + (1 - ε) x̃, ε ~ U[0, 1]); a lower bound on Lip(f)."""
    _check_pair(real, fake)
    n = min(len(real), len(fake))
    eps = torch.rand(n, generator=generator).to(real.device).view(-1, *[1] * (real.ndim - 1))
    between = eps * real[:n] + (1 - eps) * fake[:n]
    points = torch.cat([real, fake, between]).detach().requires_grad_(True)   # (n_r + n_f + n, ...)
    (grad,) = torch.autograd.grad(netD(points).sum(), points)
    return float(grad.flatten(1).norm(dim=1).max())


def w1_estimate(netD: nn.Module, real: Tensor, fake: Tensor,
                generator: torch.Generator | None = None) -> dict[str, float]:
    """The critic's W1 estimate: {"gap": E f(real) - E f(fake), "k_hat": K̂, "w1": gap / K̂}.

    Dividing by K̂ (:func:`lipschitz_scale`) removes the arbitrary scale that weight clipping
    leaves on f, so estimates at different times of training (and the exact W1) compare.
    """
    gap = critic_gap(netD, real, fake)
    k_hat = lipschitz_scale(netD, real, fake, generator)
    if k_hat == 0.0:
        raise ValueError("the critic is constant on these points (all input gradients are 0); "
                         "its scale and W1 estimate are undefined")
    return {"gap": gap, "k_hat": k_hat, "w1": gap / k_hat}


class EMTracker:
    """GANTrainer callback: the critic's W1 estimate vs the exact EM distance during training.

    At every ``"log"`` event whose step is a multiple of ``every`` it draws ``n`` generator
    samples (fixed noise, ``trainer.sample(n, seed=seed)``), compares them with the fixed real
    points ``real`` (n_real, d) and appends to ``steps``, ``gap``, ``k_hat``, ``w1`` (see
    :func:`w1_estimate`) and ``em`` (exact W1 between the two point clouds, POT network
    simplex). Exact OT costs O(n³): keep n in the hundreds.
    """

    def __init__(self, real: Tensor, every: int, n: int | None = None, seed: int = 0):
        if real.ndim != 2:
            raise ValueError(f"real must be toy points (n, d); got shape {tuple(real.shape)}")
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.real, self.every, self.n, self.seed = real.detach().cpu(), every, n or len(real), seed
        self.steps: list[int] = []
        self.gap: list[float] = []
        self.k_hat: list[float] = []
        self.w1: list[float] = []
        self.em: list[float] = []

    def __call__(self, trainer: Any, event: str) -> None:
        if event != "log" or trainer.step % self.every:
            return
        fake = trainer.sample(self.n, seed=self.seed)                     # (n, d) on CPU
        netD = trainer.netD
        device = next(netD.parameters()).device
        est = w1_estimate(netD, self.real.to(device), fake.to(device),
                          torch.Generator().manual_seed(self.seed))
        self.steps.append(trainer.step)
        self.gap.append(est["gap"])
        self.k_hat.append(est["k_hat"])
        self.w1.append(est["w1"])
        self.em.append(emd_point_clouds(fake.numpy(), self.real.numpy())[0])


def correlations(a: Any, b: Any) -> dict[str, float]:
    """{"pearson": r, "spearman": rho} of two equally long series (at least 3 values each)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 3:
        raise ValueError(f"need two 1D series of equal length >= 3; got shapes {a.shape} and "
                         f"{b.shape}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("a constant series has no correlation")
    return {"pearson": float(pearsonr(a, b)[0]), "spearman": float(spearmanr(a, b)[0])}


__all__ = ["EMTracker", "correlations", "critic_gap", "dual_value_1d", "kantorovich_potential_1d",
           "lipschitz_scale", "w1_estimate"]
