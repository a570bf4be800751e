"""Toy distributions: samplers with known densities where one exists.

Scales follow the papers the course compares against:

* ring-8 and grid-25 at the PacGAN scales (ring radius 1, σ = 0.01; grid
  {-4, -2, 0, 2, 4}², σ = 0.05) — ``scale="pacgan"``, the default;
* the WGAN-GP code's scales (``scale="wgan-gp"``): 8 Gaussians on a circle of radius
  2 with σ = 0.02, and the 25 grid centres at {-4, ..., 4}² with σ = 0.05, both divided
  by their normalising factor (√2 and 2√2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

TOY_SCALES = ("pacgan", "wgan-gp")


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
    if generator is not None:
        return generator
    return torch.Generator().manual_seed(seed) if seed is not None else None


class ToyDistribution:
    """Base class: ``sample(n)`` returns a float tensor (n, dim)."""

    name = "toy"
    dim = 2

    def sample(self, n: int, seed: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no density with respect to Lebesgue "
                                  f"measure in {self.dim}D")

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x).exp()


class GaussianMixture(ToyDistribution):
    """Mixture of isotropic Gaussians.

    p(x) = Σ_k w_k N(x; μ_k, σ_k² I).
    """

    def __init__(self, means: Sequence, stds: float | Sequence[float],
                 weights: Sequence[float] | None = None, name: str = "mixture"):
        self.means = torch.as_tensor(means, dtype=torch.float32)
        if self.means.ndim == 1:
            self.means = self.means[:, None]                          # (K, 1) for 1D mixtures
        k, self.dim = self.means.shape
        self.stds = torch.as_tensor(stds, dtype=torch.float32).expand(k).clone()  # (K,)
        if (self.stds <= 0).any():
            raise ValueError("standard deviations must be positive")
        w = torch.ones(k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != (k,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers with a positive sum")
        self.weights = w / w.sum()
        self.name = name

    @property
    def centers(self) -> torch.Tensor:
        return self.means

    @property
    def sigma(self) -> float:
        """The common σ (mixtures built by this module share one)."""
        return float(self.stds.max())

    def sample(self, n, seed=None, generator=None, return_labels: bool = False):
        g = _generator(seed, generator)
        comp = torch.multinomial(self.weights, n, replacement=True, generator=g)   # (n,)
        noise = torch.randn(n, self.dim, generator=g)
        x = self.means[comp] + noise * self.stds[comp, None]                       # (n, dim)
        return (x, comp) if return_labels else x

    def log_prob(self, x):
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.ndim == 1 and self.dim == 1:
            x = x[:, None]
        d2 = torch.cdist(x, self.means).pow(2)                                       # (n, K)
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * self.stds**2)          # (K,)
        log_comp = log_norm - 0.5 * d2 / self.stds**2 + torch.log(self.weights)
        return torch.logsumexp(log_comp, dim=1)


def gaussian_mixture_1d(means: Sequence[float], stds: float | Sequence[float] = 1.0,
                        weights: Sequence[float] | None = None) -> GaussianMixture:
    return GaussianMixture(means, stds, weights, name="mixture1d")


def ring8(scale: str = "pacgan") -> GaussianMixture:
    """8 Gaussians evenly spaced on a circle."""
    radius, sigma = {"pacgan": (1.0, 0.01), "wgan-gp": (2.0 / math.sqrt(2), 0.02 / math.sqrt(2))}[
        _check_scale(scale)]
    angles = torch.arange(8) * (2 * math.pi / 8)
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means, sigma, name="ring8")


def grid25(scale: str = "pacgan") -> GaussianMixture:
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}²."""
    factor, sigma = {"pacgan": (1.0, 0.05), "wgan-gp": (2 * math.sqrt(2), 0.05 / (2 * math.sqrt(2)))}[
        _check_scale(scale)]
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(ticks, ticks) / factor
    return GaussianMixture(means, sigma, name="grid25")


def _check_scale(scale: str) -> str:
    if scale not in TOY_SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales are {', '.join(TOY_SCALES)}")
    return scale


class _SklearnToy(ToyDistribution):
    """A scikit-learn sample generator seeded from a torch generator (no density)."""

    def __init__(self, noise: float):
        self.noise = noise

    def _make(self, n: int, noise: float, random_state: int):
        raise NotImplementedError

    def sample(self, n, seed=None, generator=None):
        g = _generator(seed, generator)
        random_state = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        return torch.as_tensor(self._make(n, self.noise, random_state), dtype=torch.float32)


class SwissRoll(_SklearnToy):
    """2D swiss roll (scikit-learn's ``make_swiss_roll`` x/z plane), scaled by 1/7.5."""

    name = "swiss_roll"

    def __init__(self, noise: float = 0.25):
        super().__init__(noise)

    def _make(self, n, noise, random_state):
        from sklearn.datasets import make_swiss_roll

        x, _ = make_swiss_roll(n, noise=noise, random_state=random_state)
        return x[:, [0, 2]] / 7.5


class Moons(_SklearnToy):
    """Two interleaving half circles (scikit-learn's ``make_moons``)."""

    name = "moons"

    def __init__(self, noise: float = 0.05):
        super().__init__(noise)

    def _make(self, n, noise, random_state):
        from sklearn.datasets import make_moons

        return make_moons(n, noise=noise, random_state=random_state)[0]


class ParallelLines(ToyDistribution):
    """WGAN paper, example 1: P_θ = (θ, Z) with Z ~ U[0, 1].

    Supported on a vertical segment, so it has no density in 2D: P_0 and P_θ (θ ≠ 0)
    are disjoint, JS = ln 2, KL = ∞, TV = 1, while W1 = |θ|.
    """

    name = "parallel_lines"

    def __init__(self, theta: float = 0.0):
        self.theta = float(theta)

    def sample(self, n, seed=None, generator=None):
        g = _generator(seed, generator)
        z = torch.rand(n, generator=g)
        return torch.stack([torch.full_like(z, self.theta), z], dim=1)              # (n, 2)


_TOYS = {
    "ring8": ring8,
    "grid25": grid25,
    "swiss_roll": SwissRoll,
    "moons": Moons,
    "parallel_lines": ParallelLines,
    "mixture1d": gaussian_mixture_1d,
}


def toy(name: str, **kwargs) -> ToyDistribution:
    """Build a toy distribution by name: ring8, grid25, swiss_roll, moons, parallel_lines,
    mixture1d (keyword arguments go to its constructor)."""
    if name not in _TOYS:
        raise ValueError(f"unknown toy distribution {name!r}; valid names are "
                         f"{', '.join(sorted(_TOYS))}")
    if name == "mixture1d" and "means" not in kwargs:
        kwargs["means"] = [-2.0, 2.0]
    return _TOYS[name](**kwargs)
