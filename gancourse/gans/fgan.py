"""f-divergences, their Fenchel conjugates and the f-GAN variational bound (notebook 06).

An f-divergence compares P and Q (densities p, q) through a convex f with f(1) = 0:

    D_f(P || Q) = E_{x~Q}[ f(p(x) / q(x)) ] = integral q(x) f(p(x) / q(x)) dx.

Fenchel conjugate: f*(t) = sup_u [u t - f(u)]; since f is convex and closed, f = f** and
f(u) = sup_t [u t - f*(t)]: f is the upper envelope of the lines u -> u t - f*(t). Putting
this inside the integral and restricting the pointwise sup to a function class T gives the
variational lower bound of Nguyen, Wainwright and Jordan used by f-GAN (Nowozin et al. 2016):

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],

with equality at T*(x) = f'(p(x) / q(x)). A network V(x) with raw real output is mapped into
dom f* by an output activation g_f, T = g_f(V). T(x) > f'(1) means "x looks more like P than
Q" (p > q), since T* = f'(p/q) is increasing in p/q and equals f'(1) where p = q.

Conventions match :mod:`gancourse.divergences` so that D_f equals the exact values there:
JS is bounded by ln 2 and the squared Hellinger distance by 1. The f-GAN paper's table uses
twice our f for both (its "JS" is 2 JS, its Hellinger is integral (sqrt p - sqrt q)^2 = 2 H^2);
its conjugates and activations are rescaled accordingly here. Logs are natural (nats).

:data:`DIVERGENCES` (by name: ``kl``, ``rkl``, ``chi2``, ``hellinger``, ``js``) and :func:`get`
give the table; :func:`variational_bound`, :func:`bound_on_grid` and :func:`train_critic`
estimate D_f; :class:`GaussianGenerator1D`, :func:`fgan_objective`, :func:`train_fgan_1d` and
:func:`fit_exact_1d` fit a Gaussian to a 1D target through the f-GAN min-max game (on the
course's training loop, :class:`FGANTrainer`) or through the exact divergence on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from scipy import optimize, stats
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gancourse import divergences as dv
from gancourse.models import MLPDiscriminator
from gancourse.training import Batch, GANTrainer, TrainConfig

LN2 = math.log(2.0)

TorchFn = Callable[[torch.Tensor], torch.Tensor]


class Sampler(Protocol):
    def sample(self, n: int, seed: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor: ...


# ----------------------------------------------------------------------------- helpers
def _elementwise(fn: TorchFn, x: Any) -> Any:
    """Apply a torch function to a tensor (kept as is) or to array-likes (float64 in, NumPy out;
    a Python scalar in gives a float out)."""
    if isinstance(x, torch.Tensor):
        return fn(x)
    out = fn(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()
    return float(out) if out.ndim == 0 else out


def _restrict(value: TorchFn, inside: torch.Tensor, x: torch.Tensor, safe: float) -> torch.Tensor:
    """value(x) where ``inside``, +inf elsewhere; evaluated at ``safe`` outside so that neither
    the value nor its gradient becomes NaN."""
    x_safe = torch.where(inside, x, torch.full_like(x, safe))
    return torch.where(inside, value(x_safe), torch.full_like(x, math.inf))


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table.

    ``f_fn(u)``: f on its domain (+inf outside); ``f_prime_fn``: f'; ``conj``: f* on
    dom f* = (-inf, t_max) (+inf outside); ``act``: g_f, increasing, R -> dom f*;
    ``threshold`` = f'(1); ``exact_fn(p, q, dx)``: D_f from :mod:`gancourse.divergences`.
    The ``tex_*`` fields are the table entries for display.
    """

    name: str
    f_fn: TorchFn
    f_prime_fn: TorchFn
    conj: TorchFn
    act: TorchFn
    threshold: float
    t_max: float
    exact_fn: Callable[..., float]
    tex_divergence: str
    tex_f: str
    tex_conjugate: str
    tex_activation: str
    tex_domain: str

    def f(self, u: Any) -> Any:
        """f(u) (tensor in -> tensor out; arrays/floats in -> NumPy/float out)."""
        return _elementwise(self.f_fn, u)

    def f_prime(self, u: Any) -> Any:
        """f'(u), the slope of f; T*(x) = f'(p(x) / q(x))."""
        return _elementwise(self.f_prime_fn, u)

    def conjugate(self, t: Any) -> Any:
        """f*(t) = sup_u [u t - f(u)]; +inf for t outside dom f*."""
        return _elementwise(self.conj, t)

    def activation(self, v: Any) -> Any:
        """g_f(v): maps a raw critic output v in R into dom f*."""
        return _elementwise(self.act, v)

    def exact(self, p: Any, q: Any, *, dx: float | None = None) -> float:
        """D_f(P || Q) between two histograms, or densities on a uniform grid of step dx."""
        return self.exact_fn(p, q, dx=dx)

    def optimal_critic(self, p: Any, q: Any) -> np.ndarray:
        """T*(x) = f'(p(x) / q(x)) from density values p, q > 0 on the same points."""
        p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
        if p.shape != q.shape or np.any(p <= 0) or np.any(q <= 0):
            raise ValueError("p and q must be positive density values of the same shape; got "
                             f"shapes {p.shape} and {q.shape}")
        return np.asarray(self.f_prime(p / q))


def _kl_f(u):
    return _restrict(lambda s: torch.special.xlogy(s, s), u >= 0, u, 1.0)


def _rkl_f(u):
    return _restrict(lambda s: -torch.log(s), u >= 0, u, 1.0)


def _chi2_f(u):
    return (u - 1) ** 2


def _hellinger_f(u):
    return _restrict(lambda s: 0.5 * (torch.sqrt(s) - 1) ** 2, u >= 0, u, 1.0)


def _js_f(u):
    return _restrict(lambda s: 0.5 * (torch.special.xlogy(s, s) - (s + 1) * torch.log((s + 1) / 2)),
                     u >= 0, u, 1.0)


DIVERGENCES: dict[str, FDivergence] = {
    "kl": FDivergence(
        name="kl",
        f_fn=_kl_f,
        f_prime_fn=lambda u: 1 + torch.log(u),
        conj=lambda t: torch.exp(t - 1),
        act=lambda v: v,
        threshold=1.0, t_max=math.inf, exact_fn=dv.kl_divergence,
        tex_divergence=r"$\mathrm{KL}(P\Vert Q)=\int p\ln\frac{p}{q}$",
        tex_f=r"$u\ln u$", tex_conjugate=r"$e^{t-1}$", tex_activation=r"$v$",
        tex_domain=r"$\mathbb{R}$"),
    "rkl": FDivergence(
        name="rkl",
        f_fn=_rkl_f,
        f_prime_fn=lambda u: -1 / u,
        conj=lambda t: _restrict(lambda s: -1 - torch.log(-s), t < 0, t, -1.0),
        act=lambda v: -torch.exp(-v),
        threshold=-1.0, t_max=0.0, exact_fn=dv.reverse_kl_divergence,
        tex_divergence=r"$\mathrm{KL}(Q\Vert P)=\int q\ln\frac{q}{p}$",
        tex_f=r"$-\ln u$", tex_conjugate=r"$-1-\ln(-t)$", tex_activation=r"$-e^{-v}$",
        tex_domain=r"$t<0$"),
    "chi2": FDivergence(
        name="chi2",
        f_fn=_chi2_f,
        f_prime_fn=lambda u: 2 * (u - 1),
        conj=lambda t: t ** 2 / 4 + t,
        act=lambda v: v,
        threshold=0.0, t_max=math.inf, exact_fn=dv.pearson_chi2,
        tex_divergence=r"$\chi^2(P\Vert Q)=\int \frac{(p-q)^2}{q}$",
        tex_f=r"$(u-1)^2$", tex_conjugate=r"$\frac{t^2}{4}+t$", tex_activation=r"$v$",
        tex_domain=r"$\mathbb{R}$"),
    "hellinger": FDivergence(
        name="hellinger",
        f_fn=_hellinger_f,
        f_prime_fn=lambda u: 0.5 * (1 - 1 / torch.sqrt(u)),
        conj=lambda t: _restrict(lambda s: s / (1 - 2 * s), t < 0.5, t, 0.0),
        act=lambda v: 0.5 * (1 - torch.exp(-v)),
        threshold=0.0, t_max=0.5, exact_fn=dv.hellinger_squared,
        tex_divergence=r"$H^2(P,Q)=\frac{1}{2}\int(\sqrt{p}-\sqrt{q})^2$",
        tex_f=r"$\frac{1}{2}(\sqrt{u}-1)^2$", tex_conjugate=r"$\frac{t}{1-2t}$",
        tex_activation=r"$\frac{1}{2}(1-e^{-v})$", tex_domain=r"$t<\frac{1}{2}$"),
    "js": FDivergence(
        name="js",
        f_fn=_js_f,
        f_prime_fn=lambda u: 0.5 * torch.log(2 * u / (1 + u)),
        conj=lambda t: _restrict(lambda s: -0.5 * torch.log(2 - torch.exp(2 * s)), t < LN2 / 2, t,
                                 0.0),
        act=lambda v: 0.5 * (LN2 - F.softplus(-v)),
        threshold=0.0, t_max=LN2 / 2, exact_fn=dv.js_divergence,
        tex_divergence=r"$\mathrm{JS}=\frac{1}{2}\mathrm{KL}(P\Vert M)+\frac{1}{2}\mathrm{KL}(Q\Vert M)$",
        tex_f=r"$\frac{1}{2}\left[u\ln u-(u+1)\ln\frac{u+1}{2}\right]$",
        tex_conjugate=r"$-\frac{1}{2}\ln\left(2-e^{2t}\right)$",
        tex_activation=r"$\frac{1}{2}\left(\ln 2-\ln(1+e^{-v})\right)$",
        tex_domain=r"$t<\frac{\ln 2}{2}$"),
}


def get(name: str | FDivergence) -> FDivergence:
    """The table row called ``name`` (an :class:`FDivergence` is returned unchanged)."""
    if isinstance(name, FDivergence):
        return name
    if name not in DIVERGENCES:
        raise ValueError(f"unknown f-divergence {name!r}; valid names are "
                         f"{', '.join(DIVERGENCES)}")
    return DIVERGENCES[name]


# ----------------------------------------------------------------------------- the bound
def variational_bound(div: str | FDivergence, t_p: torch.Tensor,
                      t_q: torch.Tensor) -> torch.Tensor:
    """E_P[T] - E_Q[f*(T)] from critic values T (already in dom f*) on samples of P, (n,), and
    of Q, (m,). A lower bound on D_f(P || Q) in expectation, for every T."""
    d = get(div)
    return t_p.mean() - d.conj(t_q).mean()


def bound_on_grid(div: str | FDivergence, x: Any, p: Any, q: Any, t: Any = None) -> float:
    """The bound integral p T - q f*(T) dx on a uniform grid x (Riemann sum, as in
    :mod:`gancourse.divergences`), for density values p, q > 0 on x. ``t`` defaults to the
    optimal critic T* = f'(p/q), where the bound equals D_f(P || Q)."""
    d = get(div)
    x = np.asarray(x, dtype=np.float64)
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or p.shape != x.shape or q.shape != x.shape:
        raise ValueError(f"x, p, q must be 1D of the same length >= 2; got {x.shape}, "
                         f"{p.shape}, {q.shape}")
    t = d.optimal_critic(p, q) if t is None else np.asarray(t, dtype=np.float64)
    dx = float(x[1] - x[0])
    return float(np.sum(p * t - q * d.conjugate(t)) * dx)


class FCritic(nn.Module):
    """T(x) = g_f(V(x)): an MLP V (LeakyReLU, raw real output) followed by the divergence's
    output activation, so T always lies in dom f*. x (B, dim) -> T (B,)."""

    def __init__(self, div: str | FDivergence, dim: int = 1, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.div = get(div)
        self.net = MLPDiscriminator(dim, hidden=tuple(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.div.act(self.net(x))  # (B,)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0; got {value!r}")


def train_critic(div: str | FDivergence, sample_p: Sampler, sample_q: Sampler, steps: int = 1000,
                 batch_size: int = 256, hidden: Sequence[int] = (64, 64), lr: float = 1e-3,
                 n_eval: int = 20_000, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Estimate D_f(P || Q) from samples: maximise the bound over an :class:`FCritic` with Adam
    on fresh minibatches of both samplers (objects with ``.sample(n, generator=)``), the
    learning rate annealed from ``lr`` to 0 on a cosine (so the last critic is not a noisy
    Adam iterate), then evaluate the bound on ``n_eval`` fresh samples of each.

    Returns ``{"estimate": float, "history": (steps,) minibatch bounds, "critic": FCritic}``.
    The global torch RNG is left untouched.
    """
    d = get(div)
    _check_positive(steps=steps, batch_size=batch_size, lr=lr, n_eval=n_eval)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = FCritic(d, dim=1, hidden=hidden)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    history = np.empty(steps)
    for step in tqdm(range(steps), disable=not progress, desc=f"critic {d.name}"):
        real = sample_p.sample(batch_size, generator=gen).reshape(batch_size, -1)  # (B, 1)
        fake = sample_q.sample(batch_size, generator=gen).reshape(batch_size, -1)  # (B, 1)
        bound = variational_bound(d, critic(real), critic(fake))
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        schedule.step()
        history[step] = bound.item()
    critic.eval()
    with torch.no_grad():
        real = sample_p.sample(n_eval, generator=gen).reshape(n_eval, -1)
        fake = sample_q.sample(n_eval, generator=gen).reshape(n_eval, -1)
        estimate = variational_bound(d, critic(real), critic(fake)).item()
    return {"estimate": estimate, "history": history, "critic": critic}


# ----------------------------------------------------------------------------- 1D f-GAN
class GaussianGenerator1D(nn.Module):
    """G(z) = mu + sigma z with z ~ N(0, 1): Q_theta = N(mu, sigma^2), theta = (mu, ln sigma).
    z (B, 1) -> x (B, 1)."""

    def __init__(self, mu: float = 0.0, sigma: float = 1.0):
        super().__init__()
        _check_positive(sigma=sigma)
        self.loc = nn.Parameter(torch.tensor(float(mu)))
        self.log_scale = nn.Parameter(torch.tensor(math.log(sigma)))

    @property
    def mu(self) -> float:
        return float(self.loc.detach())

    @property
    def sigma(self) -> float:
        return float(self.log_scale.detach().exp())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.loc + self.log_scale.exp() * z  # (B, 1)

    def sample(self, n: int, seed: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)
        return self(torch.randn(n, 1, generator=generator))  # (n, 1)

    def prob(self, x: Any) -> np.ndarray:
        """The density of Q_theta at the points x, float64 (len(x),)."""
        return stats.norm(self.mu, self.sigma).pdf(np.asarray(x, dtype=np.float64))


def fgan_objective(div: str | FDivergence, critic: nn.Module, real: torch.Tensor,
                   fake: torch.Tensor) -> torch.Tensor:
    """F(theta, omega) = E_P[T_omega(x)] - E_{Q_theta}[f*(T_omega(x))] on a batch of real
    (B, dim) and fake (B, dim) samples; the critic maximises F, the generator minimises it."""
    return variational_bound(div, critic(real), critic(fake))


class FGANTrainer(GANTrainer):
    """The f-GAN game on the course's one loop: the critic ``netD`` (an :class:`FCritic`, T in
    dom f*) maximises F = E_P[T(x)] - E_Q[f*(T(G(z)))], the generator minimises the part of F
    that depends on it, -E_Q[f*(T(G(z)))]. History columns added: ``bound`` (F on each critic
    batch) and, for a :class:`GaussianGenerator1D`, ``mu`` and ``sigma`` after every G step."""

    def __init__(self, div: str | FDivergence, netG: nn.Module, netD: nn.Module, data: Any,
                 config: TrainConfig, **kwargs: Any):
        super().__init__(netG, netD, data, config, **kwargs)
        self.div = get(div)

    def discriminator_loss(self, batch: Batch, fake: torch.Tensor):
        t_real, t_fake = self.D(batch.x), self.D(fake)                   # (B,), (B,)
        bound = variational_bound(self.div, t_real, t_fake)
        self._log(bound=bound)
        return -bound, t_real, t_fake

    def generator_loss(self, batch: Batch, fake: torch.Tensor) -> torch.Tensor:
        return -self.div.conj(self.D(fake)).mean()

    def after_g_step(self, batch: Batch, fake: torch.Tensor) -> None:
        if isinstance(self.netG, GaussianGenerator1D):
            self._log(mu=self.netG.loc.detach(), sigma=self.netG.log_scale.detach().exp())


def train_fgan_1d(div: str | FDivergence, target: Sampler, steps: int = 2000,
                  batch_size: int = 256, critic_steps: int = 2, lr_g: float = 1e-2,
                  lr_t: float = 1e-3, hidden: Sequence[int] = (64, 64), mu0: float = 0.5,
                  sigma0: float = 1.0, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """min_theta max_T F for a :class:`GaussianGenerator1D` against a 1D ``target`` sampler,
    trained by :class:`FGANTrainer`: per generator step, ``critic_steps`` Adam ascent steps on F
    for the critic, then one Adam descent step on -E_Q[f*(T(G(z)))] (betas (0.5, 0.999)).

    Returns ``{"mu", "sigma", "generator", "critic", "history"}``; history holds (steps,)
    arrays ``mu``, ``sigma`` and ``bound`` (F averaged over the step's critic batches). The global
    torch RNG is left untouched.
    """
    d = get(div)
    _check_positive(steps=steps, batch_size=batch_size, critic_steps=critic_steps, lr_g=lr_g,
                    lr_t=lr_t)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = FCritic(d, dim=1, hidden=hidden)
    netG = GaussianGenerator1D(mu0, sigma0)
    config = TrainConfig(steps=steps, batch_size=batch_size, z_dim=1, loss="wgan",
                         n_critic=critic_steps, lr_g=lr_g, lr_d=lr_t, betas=(0.5, 0.999),
                         n_samples=256, sample_every=steps, progress=progress, seed=seed)
    trainer = FGANTrainer(d, netG, critic, _Column(target), config, device="cpu")
    trainer.fit()
    history = {key: np.asarray(trainer.history[key]) for key in ("mu", "sigma", "bound")}
    return {"mu": netG.mu, "sigma": netG.sigma, "generator": netG, "critic": critic,
            "history": history}


class _Column:
    """A 1D sampler whose draws come as a column (n, 1), as the critic expects."""

    def __init__(self, sampler: Sampler):
        self.sampler = sampler

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.as_tensor(self.sampler.sample(n, generator=generator)).reshape(n, -1).float()


def fit_exact_1d(div: str | FDivergence, x: Any, p: Any, mu0: float = 0.5,
                 sigma0: float = 1.0) -> dict[str, float]:
    """argmin over (mu, sigma) of D_f(P || N(mu, sigma^2)), the exact divergence computed by
    :mod:`gancourse.divergences` on the uniform grid x from the target's density values p.

    Nelder-Mead on (mu, ln sigma), with mu kept inside the grid and sigma between 2 grid steps
    and 1/8 of its width so that N(mu, sigma^2) integrates to 1 on it. Pass p in float64
    (e.g. :func:`gancourse.analysis.theory.density`): float32 tails underflow to 0 and make KL infinite.
    Returns
    ``{"mu", "sigma", "value"}``.
    """
    d = get(div)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 3:
        raise ValueError(f"x must be a 1D grid of at least 3 points; got shape {x.shape}")
    _check_positive(sigma0=sigma0)
    dx, width = float(x[1] - x[0]), float(x[-1] - x[0])
    lo, hi = x[0] + width / 4, x[-1] - width / 4

    def objective(theta: np.ndarray) -> float:
        mu, sigma = float(theta[0]), math.exp(float(theta[1]))
        value = d.exact(p, stats.norm(mu, sigma).pdf(x), dx=dx)
        # inf (a density underflowing to 0 where the other is not) would stall the simplex
        return value if math.isfinite(value) else 1e12

    start = [min(max(mu0, lo), hi), math.log(sigma0)]
    res = optimize.minimize(objective, start, method="Nelder-Mead",
                            bounds=[(lo, hi), (math.log(2 * dx), math.log(width / 8))],
                            options={"xatol": 1e-5, "fatol": 1e-9, "maxiter": 2000})
    return {"mu": float(res.x[0]), "sigma": math.exp(float(res.x[1])), "value": float(res.fun)}
