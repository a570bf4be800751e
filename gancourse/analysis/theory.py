"""GAN theory, checked numerically on 1D toys (notebook 03).

Goodfellow et al. (2014) analyse the value function

    V(G, D) = E_{x ~ p_data}[log D(x)] + E_{x ~ p_g}[log(1 - D(x))].

* For a fixed generator the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x))
  (:func:`optimal_discriminator`), and plugging it in gives
  max_D V(G, D) = -2 ln 2 + 2 JS(P_data || P_g) (:func:`optimal_value`, :func:`js_on_grid`).
* :func:`train_discriminators` trains several 1D discriminators at once
  (:class:`DiscriminatorEnsemble`) on fresh samples of known distributions, so their output
  can be compared with D* on a grid (:func:`discriminator_on_grid`, :func:`dstar_max_error`)
  and their value with the closed form (:func:`value_function`, :func:`estimate_value`).
* :func:`shift_game` plays the minimax game for the one-parameter generator
  G_theta(z) = theta + std * z, to show what the step sizes of G and D do.
* Maximum likelihood is minimum KL: KL(P_data || P_theta) = -H(P_data) - E_data[log p_theta],
  so maximising the expected log-likelihood minimises the KL (:class:`MixtureModel1D`,
  :func:`fit_mle`, :func:`gaussian_mle`).

Densities are passed as callables ``p(x)`` (numpy or torch in, numpy or torch out; a toy
distribution's ``.prob`` works) or as arrays of their values on ``x``; :func:`density` gives a
toy's values in float64, so that far tails do not underflow to 0. Samplers are objects
with ``.sample(n, generator=...)``, like :mod:`gancourse.data` toys. Logs are natural.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gancourse import divergences as dv
from gancourse import losses as L

LN2 = math.log(2.0)

Density = Callable[[Any], Any] | np.ndarray | torch.Tensor


class Sampler(Protocol):
    def sample(self, n: int, seed: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor: ...


# ----------------------------------------------------------------------------- helpers
def _grid(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"x must be a non-empty 1D array of finite values; got shape {arr.shape}")
    return arr


def _density_values(p: Density, x: np.ndarray, name: str) -> np.ndarray:
    """Values of a density at the points x, as float64 (n,)."""
    values = p(x) if callable(p) else p
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.shape != x.shape:
        raise ValueError(f"{name} has {values.size} values for {x.size} points x")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and >= 0 at every x (a density)")
    return values


def _uniform_step(x: np.ndarray) -> float:
    steps = np.diff(x)
    if x.size < 2 or steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6):
        raise ValueError("x must be at least 2 increasing, evenly spaced points (a uniform grid)")
    return float(steps[0])


def _flat_samples(sampler: Sampler, n: int, generator: torch.Generator) -> torch.Tensor:
    x = sampler.sample(n, generator=generator)
    return torch.as_tensor(x, dtype=torch.float32).reshape(n)  # (n,)


# ----------------------------------------------------------------------------- densities
def density(dist: Any, x: Any) -> np.ndarray:
    """exp(dist.log_prob(x)) in float64 on the points x: (len(x),).

    Toy distributions compute log-densities in float32; exponentiating in float64 keeps far
    tails (log p < -103) positive instead of underflowing to 0, which would make KL infinite
    and D* undefined there.
    """
    x = _grid(x)
    if getattr(dist, "dim", 1) != 1:
        raise ValueError(f"{getattr(dist, 'name', 'dist')} is {dist.dim}D; pass a 1D distribution")
    with torch.no_grad():
        log_p = torch.as_tensor(dist.log_prob(torch.as_tensor(x, dtype=torch.float32)))
    return log_p.double().exp().reshape(-1).numpy()  # (len(x),)


# ----------------------------------------------------------------------------- closed forms
def optimal_discriminator(x: Any, p_data: Density, p_g: Density) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the discriminator that maximises V(G, D).

    Pointwise, D* maximises a log D + b log(1 - D) with a = p_data(x), b = p_g(x): the
    derivative a / D - b / (1 - D) vanishes at D = a / (a + b). D* = 1/2 where the densities
    are equal, -> 1 where only data lives, -> 0 where only fakes live. Undefined where both
    densities vanish (any D is optimal there): raises ``ValueError`` at such points.
    Returns float64 (len(x),).
    """
    x = _grid(x)
    a, b = _density_values(p_data, x, "p_data"), _density_values(p_g, x, "p_g")
    both_zero = (a + b) == 0
    if both_zero.any():
        raise ValueError(f"D* is undefined at x = {x[both_zero][0]:g} where p_data = p_g = 0; "
                         "restrict x to points where at least one density is positive")
    return a / (a + b)


def optimal_value(js: Any) -> Any:
    """max_D V(G, D) = V(G, D*) = -2 ln 2 + 2 JS(P_data || P_g), in nats.

    Ranges from -2 ln 2 (P_g = P_data, D* = 1/2) to 0 (disjoint supports). ``js`` is a float
    or an array of JS values in [0, ln 2]; raises ``ValueError`` outside that range.
    """
    arr = np.asarray(js, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < -1e-12) or np.any(arr > LN2 + 1e-12):
        raise ValueError(f"JS must lie in [0, ln 2] = [0, {LN2:.6f}]; got {js!r}")
    out = -2 * LN2 + 2 * arr
    return float(out) if out.ndim == 0 else out


def js_on_grid(x: Any, p_data: Density, p_g: Density) -> float:
    """Exact JS(P_data || P_g) of two 1D densities by integration on a uniform grid ``x``.

    Uses :func:`gancourse.divergences.js_divergence` with ``dx`` (the grid must hold both
    densities: each must integrate to 1 within 2 %). Accurate to O(dx) for smooth densities.
    """
    x = _grid(x)
    dx = _uniform_step(x)
    a, b = _density_values(p_data, x, "p_data"), _density_values(p_g, x, "p_g")
    return dv.js_divergence(a, b, dx=dx)


def non_negligible(p_data: Density, p_g: Density, x: Any, rel: float = 0.05) -> np.ndarray:
    """Mask of the grid points where either density matters: max(p_data, p_g)(x) >= rel *
    max over the grid of max(p_data, p_g). Bool (len(x),)."""
    if not 0 <= rel < 1:
        raise ValueError(f"rel must be in [0, 1); got {rel!r}")
    x = _grid(x)
    top = np.maximum(_density_values(p_data, x, "p_data"), _density_values(p_g, x, "p_g"))
    return top >= rel * top.max()


def dstar_max_error(x: Any, d: Any, p_data: Density, p_g: Density, rel: float = 0.05) -> float:
    """max |D(x) - D*(x)| over the grid points where max(p_data, p_g) >= rel * its peak.

    ``d`` holds a discriminator's probabilities D(x) on ``x`` (len(x),). Outside that region
    almost no samples fall, so no discriminator trained on samples can learn D* there.
    """
    x = _grid(x)
    d = np.asarray(d, dtype=np.float64).reshape(-1)
    if d.shape != x.shape:
        raise ValueError(f"d has {d.size} values for {x.size} points x")
    mask = non_negligible(p_data, p_g, x, rel)
    dstar = optimal_discriminator(x[mask], _density_values(p_data, x, "p_data")[mask],
                                  _density_values(p_g, x, "p_g")[mask])
    return float(np.max(np.abs(d[mask] - dstar)))


# ----------------------------------------------------------------------------- discriminators
class DiscriminatorEnsemble(nn.Module):
    """E independent 1D discriminators, trained and evaluated together.

    Member e computes a logit f_e(x) with an MLP 1 -> H -> H -> 1 (SiLU: smooth, so the log
    density ratios of Gaussians, quadratic in x, are easy to follow); D_e(x) = sigmoid(f_e(x)).
    The E MLPs are stacked into batched matrix products, so one step trains all of them at
    the cost of little more than one. Initialised like ``nn.Linear``
    (uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, members: int, hidden: int = 32, generator: torch.Generator | None = None):
        super().__init__()
        if members < 1 or hidden < 1:
            raise ValueError(f"need members >= 1 and hidden >= 1; got {members} and {hidden}")
        self.members = members
        sizes = [1, hidden, hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(fan_in)
            for params, shape in ((self.weights, (members, fan_in, fan_out)),
                                  (self.biases, (members, 1, fan_out))):
                init = (torch.rand(shape, generator=generator) * 2 - 1) * bound
                params.append(nn.Parameter(init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits f_e(x): x (E, B) -> (E, B); x (B,) is given to every member."""
        if x.ndim == 1:
            x = x.expand(self.members, -1)
        if x.ndim != 2 or x.shape[0] != self.members:
            raise ValueError(f"x must be (B,) or ({self.members}, B); got {tuple(x.shape)}")
        h = x.unsqueeze(-1)  # (E, B, 1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)  # (E, B, fan_out)
            if i < len(self.weights) - 1:
                h = F.silu(h)
        return h.squeeze(-1)  # (E, B)


def value_function(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """V(G, D) = mean log D(x_real) + mean log(1 - D(x_fake)) with D = sigmoid(score).

    Scores are logits (..., B); the mean runs over the last dimension, so an ensemble's
    (E, B) scores give E values. Equals -``losses.d_loss_bce`` for each row.
    """
    if real_scores.shape[:-1] != fake_scores.shape[:-1]:
        raise ValueError(f"real and fake scores must share leading dimensions; got "
                         f"{tuple(real_scores.shape)} and {tuple(fake_scores.shape)}")
    return F.logsigmoid(real_scores).mean(-1) + F.logsigmoid(-fake_scores).mean(-1)


def _d_step(netD: DiscriminatorEnsemble, opt: torch.optim.Optimizer, real: torch.Tensor,
            fake: torch.Tensor) -> None:
    """One Adam step on sum_e BCE_e = -sum_e V_e (each member's own loss)."""
    scores = netD(torch.cat([real, fake], dim=1))  # (E, B_real + B_fake): one batched pass
    real_scores, fake_scores = scores.split([real.shape[1], fake.shape[1]], dim=1)
    loss = L.d_loss_bce(real_scores, fake_scores) * netD.members  # mean over E -> sum over E
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _check_training(steps: int, batch_size: int, lr: float) -> None:
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need steps >= 1, batch_size >= 1 and lr > 0; got {steps}, "
                         f"{batch_size}, {lr}")


def train_discriminators(real: Sampler, fakes: Sequence[Sampler], steps: int,
                         batch_size: int = 512, hidden: int = 32, lr: float = 1e-2,
                         seed: int = 0, progress: bool = False) -> DiscriminatorEnsemble:
    """Train one discriminator per fake distribution to (near) convergence: D_e against
    real vs ``fakes[e]``.

    Every step draws fresh batches (``batch_size`` real and fake samples per member; the
    members' real samples are independent) and takes an Adam step on each member's BCE loss
    -V(G_e, D_e). The learning rate decays from ``lr`` to 0 on a cosine schedule,
    lr_t = lr (1 + cos(pi t / steps)) / 2, so the last steps average out the sampling noise:
    the result is close to D*_e where samples fall.
    Uses its own random generator (``seed``); the global torch RNG is left untouched.
    Returns the ensemble in eval mode.
    """
    _check_training(steps, batch_size, lr)
    if len(fakes) == 0:
        raise ValueError("fakes must hold at least one distribution")
    g = torch.Generator().manual_seed(seed)
    netD = DiscriminatorEnsemble(len(fakes), hidden, generator=g)
    opt = torch.optim.Adam(netD.parameters(), lr=lr)
    for t in tqdm(range(steps), desc="training D", disable=not progress):
        opt.param_groups[0]["lr"] = 0.5 * lr * (1 + math.cos(math.pi * t / steps))  # cosine
        x_real = _flat_samples(real, len(fakes) * batch_size, g).view(len(fakes), batch_size)
        x_fake = torch.stack([_flat_samples(f, batch_size, g) for f in fakes])  # (E, B)
        _d_step(netD, opt, x_real, x_fake)
    return netD.eval()


@torch.no_grad()
def discriminator_on_grid(netD: DiscriminatorEnsemble, x: Any) -> np.ndarray:
    """D_e(x) = sigmoid(f_e(x)) of every member on the points ``x``: float64 (E, len(x))."""
    x = torch.as_tensor(_grid(x), dtype=torch.float32)
    return torch.sigmoid(netD(x)).double().numpy()


@torch.no_grad()
def estimate_value(netD: DiscriminatorEnsemble, real: Sampler, fakes: Sequence[Sampler],
                   n: int = 100_000, seed: int = 1) -> np.ndarray:
    """Monte Carlo estimate of V(G_e, D_e) for every member on ``n`` fresh samples of the real
    and of its fake distribution (the same real samples for all): float64 (E,).

    Use samples the discriminator was not trained on; the standard error is about
    std(log D) / sqrt(n) (~0.002 for n = 100,000).
    """
    if len(fakes) != netD.members:
        raise ValueError(f"the ensemble has {netD.members} members but {len(fakes)} fakes")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    g = torch.Generator().manual_seed(seed)
    x_real = _flat_samples(real, n, g)  # (n,)
    x_fake = torch.stack([_flat_samples(f, n, g) for f in fakes])  # (E, n)
    return value_function(netD(x_real), netD(x_fake)).double().numpy()


def shift_game(real: Sampler, theta0: Any, lr_g: Any, d_steps: int, g_steps: int,
               d_warmup: int = 0, std: float = 1.0, batch_size: int = 512,
               g_batch_size: int = 4096, hidden: int = 32, lr_d: float = 1e-2, seed: int = 0,
               progress: bool = False) -> dict[str, np.ndarray]:
    """The minimax game for G_theta(z) = theta + std * z, z ~ N(0, 1), i.e. P_g = N(theta, std^2).

    Several games run side by side (one per entry of ``theta0`` / ``lr_g``, scalars broadcast),
    each with its own discriminator (a :class:`DiscriminatorEnsemble` member, warm-started
    from one generator step to the next, Adam with a constant ``lr_d``). First ``d_warmup``
    discriminator steps against the initial generators, then ``g_steps`` rounds of:

    1. ``d_steps`` discriminator steps on fresh batches (maximise V);
    2. one plain gradient step on theta for the minimax generator loss
       L_G(theta) = E_z log(1 - D(theta + std * z)) = the part of V that depends on G:
       theta <- theta - lr_g * dL_G/dtheta, estimated on ``g_batch_size`` noise samples.

    With D = D* the envelope theorem gives dL_G/dtheta = d/dtheta max_D V = 2 dJS/dtheta,
    so a well-trained D hands G the gradient of the JS divergence; a barely trained one
    does not. ``lr_g = 0`` keeps theta fixed and records how the gradient changes as D trains.

    Returns ``theta`` (g_steps + 1, E), the parameter before each round and at the end, and
    ``grad`` (g_steps, E), the generator's gradient estimate used in each round.
    """
    _check_training(d_steps, batch_size, lr_d)
    if g_steps < 1 or d_warmup < 0 or g_batch_size < 1 or not std > 0:
        raise ValueError(f"need g_steps >= 1, d_warmup >= 0, g_batch_size >= 1 and std > 0; "
                         f"got {g_steps}, {d_warmup}, {g_batch_size}, {std}")
    theta0_arr, lr_arr = np.broadcast_arrays(np.asarray(theta0, dtype=np.float64),
                                             np.asarray(lr_g, dtype=np.float64))
    theta0_arr, lr_arr = theta0_arr.reshape(-1), lr_arr.reshape(-1)
    if np.any(lr_arr < 0) or not np.all(np.isfinite(theta0_arr)):
        raise ValueError("lr_g must be >= 0 and theta0 finite")
    games = theta0_arr.size
    g = torch.Generator().manual_seed(seed)
    netD = DiscriminatorEnsemble(games, hidden, generator=g)
    opt = torch.optim.Adam(netD.parameters(), lr=lr_d)
    theta = torch.tensor(theta0_arr, dtype=torch.float32)  # (E,)

    def train_d(steps: int) -> None:
        for _ in range(steps):
            x_real = _flat_samples(real, games * batch_size, g).view(games, batch_size)
            x_fake = theta[:, None] + std * torch.randn(games, batch_size, generator=g)  # (E, B)
            _d_step(netD, opt, x_real, x_fake)

    train_d(d_warmup)
    thetas, grads = [theta0_arr.copy()], []
    for _ in tqdm(range(g_steps), desc="minimax game", disable=not progress):
        train_d(d_steps)
        th = theta.clone().requires_grad_(True)
        fake = th[:, None] + std * torch.randn(games, g_batch_size, generator=g)  # (E, B_g)
        g_loss = -F.softplus(netD(fake)).mean(-1)  # (E,) L_G per game = E log(1 - D)
        (grad,) = torch.autograd.grad(g_loss.sum(), th)
        theta = theta - torch.tensor(lr_arr, dtype=torch.float32) * grad
        grads.append(grad.double().numpy())
        thetas.append(theta.double().numpy())
    return {"theta": np.stack(thetas), "grad": np.stack(grads)}


# ----------------------------------------------------------------------------- likelihood
def gaussian_mle(samples: Any) -> tuple[float, float]:
    """Maximum-likelihood Gaussian for 1D samples, in closed form.

    Setting the derivatives of sum_i log N(x_i; mu, sigma^2) to 0 gives mu = mean(x) and
    sigma^2 = mean((x - mu)^2) (divide by n, not n - 1). Returns ``(mu, sigma)``.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least 2 finite samples; got {x.size}")
    return float(x.mean()), float(x.std(ddof=0))


class MixtureModel1D(nn.Module):
    """A parametric 1D density: p_theta(x) = sum_k pi_k N(x; mu_k, sigma_k^2).

    Parameters: means mu (K,), log sigma (K,) and mixture logits (K,), with pi = softmax.
    K = 1 is a Gaussian.
    """

    def __init__(self, means: Sequence[float], stds: Sequence[float],
                 weights: Sequence[float] | None = None):
        super().__init__()
        mu = torch.as_tensor(means, dtype=torch.float32).reshape(-1)
        sigma = torch.as_tensor(stds, dtype=torch.float32).reshape(-1)
        w = torch.ones_like(mu) if weights is None else torch.as_tensor(weights,
                                                                         dtype=torch.float32)
        if mu.numel() == 0 or sigma.shape != mu.shape or w.shape != mu.shape:
            raise ValueError(f"means, stds and weights need the same length >= 1; got "
                             f"{mu.numel()}, {sigma.numel()} and {w.numel()}")
        if (sigma <= 0).any() or (w <= 0).any():
            raise ValueError("stds and weights must be > 0")
        self.means = nn.Parameter(mu)
        self.log_stds = nn.Parameter(sigma.log())
        self.logits = nn.Parameter((w / w.sum()).log())

    def log_prob(self, x: Any) -> torch.Tensor:
        """log p_theta(x) for x (N,) -> (N,)."""
        x = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1)  # (N, 1)
        log_pi = F.log_softmax(self.logits, dim=0)  # (K,)
        z = (x - self.means) / self.log_stds.exp()  # (N, K)
        log_comp = -0.5 * z**2 - self.log_stds - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(log_pi + log_comp, dim=1)

    def prob(self, x: Any) -> torch.Tensor:
        return self.log_prob(x).exp()


def fit_mle(model: MixtureModel1D, samples: Any, steps: int, lr: float = 0.05,
            grid: Any = None, p_data: Density | None = None) -> dict[str, np.ndarray]:
    """Maximum likelihood by gradient ascent: Adam on -mean_i log p_theta(x_i), full batch.

    Records after every step the mean log-likelihood of the samples and, when ``grid`` and
    ``p_data`` are given, the exact KL(P_data || P_theta) on that uniform grid
    (:func:`gancourse.divergences.kl_divergence` with ``dx``; p_theta in float64, see
    :func:`density`). Since
    KL(P_data || P_theta) = -H(P_data) - E_data[log p_theta], and the sample mean estimates
    the expectation, the log-likelihood rises exactly as the KL falls (up to sampling noise).
    Updates ``model`` in place. Returns ``step`` (steps + 1,), ``log_likelihood`` and, with a
    grid, ``kl``, all starting with the initial model.
    """
    _check_training(steps, 1, lr)
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32)).reshape(-1)  # (n,)
    if x.numel() < 2 or not torch.isfinite(x).all():
        raise ValueError(f"need at least 2 finite samples; got {x.numel()}")
    if (grid is None) != (p_data is None):
        raise ValueError("pass both grid and p_data to track the KL, or neither")
    if grid is not None:
        grid = _grid(grid)
        dx = _uniform_step(grid)
        p_grid = _density_values(p_data, grid, "p_data")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"step": [], "log_likelihood": [], "kl": []}

    def log(step: int, mean_ll: float) -> None:
        history["step"].append(step)
        history["log_likelihood"].append(mean_ll)
        if grid is not None:
            q = density(model, grid)
            history["kl"].append(dv.kl_divergence(p_grid, q, dx=dx))

    for step in range(steps + 1):
        mean_ll = model.log_prob(x).mean()
        log(step, mean_ll.item())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        (-mean_ll).backward()
        opt.step()
    if grid is None:
        del history["kl"]
    return {k: np.asarray(v) for k, v in history.items()}
