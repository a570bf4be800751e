"""Tests for gancourse.gans.fgan: the f-divergence table, conjugates, the variational bound and the
1D f-GAN fits."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from gancourse import data
from gancourse.analysis import theory
from gancourse.gans import fgan

NAMES = ("kl", "rkl", "chi2", "hellinger", "js")

# Points inside dom f (u >= 0; u > 0 for reverse KL) and t-ranges whose maximiser
# u* = (f')^{-1}(t) lies well inside the u-grid used for the numerical conjugate.
T_RANGES = {"kl": (-3, 2), "rkl": (-5, -0.2), "chi2": (-1.9, 3), "hellinger": (-2, 0.4),
            "js": (-1, 0.3)}

# Two Gaussians with known closed forms: P = N(0, 1), Q = N(1, 1.5^2).
M1, S1, M2, S2 = 0.0, 1.0, 1.0, 1.5


def closed_form(name: str) -> float:
    d2 = (M1 - M2) ** 2
    if name == "kl":
        return math.log(S2 / S1) + (S1**2 + d2) / (2 * S2**2) - 0.5
    if name == "rkl":
        return math.log(S1 / S2) + (S2**2 + d2) / (2 * S1**2) - 0.5
    if name == "chi2":
        return S2**2 / (S1 * math.sqrt(2 * S2**2 - S1**2)) * math.exp(d2 / (2 * S2**2 - S1**2)) - 1
    if name == "hellinger":
        return 1 - math.sqrt(2 * S1 * S2 / (S1**2 + S2**2)) * math.exp(-d2 / (4 * (S1**2 + S2**2)))
    # JS has no closed form: adaptive quadrature of its definition.
    p, q = stats.norm(M1, S1).pdf, stats.norm(M2, S2).pdf

    def integrand(x):
        m = 0.5 * (p(x) + q(x))
        return 0.5 * p(x) * math.log(p(x) / m) + 0.5 * q(x) * math.log(q(x) / m)

    return integrate.quad(integrand, -15, 15, limit=200)[0]


@pytest.fixture(scope="module")
def gaussian_grid():
    x = np.linspace(-14, 14, 14001)
    return x, stats.norm(M1, S1).pdf(x), stats.norm(M2, S2).pdf(x)


# ----------------------------------------------------------------------------- the table
def test_table_has_the_five_divergences():
    assert tuple(fgan.DIVERGENCES) == NAMES
    for name in NAMES:
        assert fgan.get(name).name == name
    d = fgan.get("kl")
    assert fgan.get(d) is d


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown f-divergence 'wasserstein'.*kl, rkl, chi2"):
        fgan.get("wasserstein")


@pytest.mark.parametrize("name", NAMES)
def test_f_of_one_is_zero_and_threshold_is_slope_at_one(name):
    d = fgan.get(name)
    assert abs(d.f(1.0)) < 1e-12
    assert abs(d.f_prime(1.0) - d.threshold) < 1e-12
    # f*(f'(1)) = 1 * f'(1) - f(1) = f'(1): the tangent at u = 1
    assert abs(d.conjugate(d.threshold) - d.threshold) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_f_is_convex_and_f_prime_is_its_slope(name):
    d = fgan.get(name)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.01, 20, 500), rng.uniform(0.01, 20, 500)
    lam = rng.uniform(0, 1, 500)
    assert np.all(d.f(lam * a + (1 - lam) * b) <= lam * d.f(a) + (1 - lam) * d.f(b) + 1e-12)
    u, h = np.linspace(0.2, 10, 50), 1e-5
    numeric = (d.f(u + h) - d.f(u - h)) / (2 * h)
    np.testing.assert_allclose(d.f_prime(u), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_sup_of_ut_minus_f(name):
    d = fgan.get(name)
    u = np.linspace(0, 60, 300_001)
    f_u = d.f(u)
    ts = np.linspace(*T_RANGES[name], 13)
    numeric = np.array([np.max(u * t - f_u) for t in ts])
    np.testing.assert_allclose(d.conjugate(ts), numeric, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_activation_maps_into_the_domain_of_the_conjugate(name):
    d = fgan.get(name)
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    t = d.activation(v)
    assert torch.all(t < d.t_max)
    assert torch.all(torch.diff(t) >= 0)       # increasing: larger V means "more like P"
    assert torch.all(torch.isfinite(d.conjugate(t)))
    if math.isfinite(d.t_max):
        assert math.isinf(d.conjugate(d.t_max)) and math.isinf(d.conjugate(d.t_max + 1))


def test_outside_the_domain_is_infinite_and_types_are_kept():
    assert math.isinf(fgan.get("kl").f(-0.5))
    assert math.isinf(fgan.get("rkl").f(0.0))
    assert isinstance(fgan.get("kl").f(2.0), float)
    assert isinstance(fgan.get("kl").f(np.ones(3)), np.ndarray)
    t = torch.tensor([-1.0, 0.0], requires_grad=True)
    out = fgan.get("rkl").conjugate(t)
    assert isinstance(out, torch.Tensor) and math.isinf(out[1].item())
    out[0].backward()
    assert torch.isfinite(t.grad).all()         # no NaN leaks from the masked entry


def test_known_values():
    assert abs(fgan.get("kl").conjugate(1.0) - 1.0) < 1e-12
    assert abs(fgan.get("chi2").conjugate(2.0) - 3.0) < 1e-12
    assert abs(fgan.get("hellinger").conjugate(0.25) - 0.5) < 1e-12
    assert abs(fgan.get("js").f(0.0) - math.log(2) / 2) < 1e-12   # disjoint supports: ln 2
    assert abs(fgan.get("hellinger").f(0.0) - 0.5) < 1e-12


# ----------------------------------------------------------------------------- the bound
@pytest.mark.parametrize("name", NAMES)
def test_exact_matches_closed_form_and_bound_is_tight_at_optimal_critic(name, gaussian_grid):
    x, p, q = gaussian_grid
    d = fgan.get(name)
    exact = closed_form(name)
    assert abs(d.exact(p, q, dx=x[1] - x[0]) - exact) < 1e-6 * max(1, exact)
    assert abs(fgan.bound_on_grid(d, x, p, q) - exact) < 1e-6 * max(1, exact)
    # any other critic gives less
    t_other = d.optimal_critic(p, q) - 0.1 * np.tanh(x)
    assert fgan.bound_on_grid(d, x, p, q, t_other) < exact - 1e-4


def test_variational_bound_by_hand():
    t_p, t_q = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
    expected = 1.5 - (math.exp(-1) + 1) / 2
    assert abs(fgan.variational_bound("kl", t_p, t_q).item() - expected) < 1e-6
    assert abs(fgan.variational_bound("chi2", t_p, t_q).item() - (1.5 - 1.25 / 2)) < 1e-6


def test_bad_inputs_to_the_grid_helpers():
    with pytest.raises(ValueError, match="positive density values"):
        fgan.get("kl").optimal_critic([0.5, 0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="same length"):
        fgan.bound_on_grid("kl", [0.0, 1.0, 2.0], [0.5, 0.5], [0.5, 0.5, 0.5])


def test_train_critic_approaches_the_kl_of_two_gaussians():
    p, q = data.gaussian_mixture_1d([0.0], 1.0), data.gaussian_mixture_1d([1.0], 1.0)
    res = fgan.train_critic("kl", p, q, steps=300, batch_size=256, lr=3e-3, n_eval=20_000)
    assert abs(res["estimate"] - 0.5) < 0.08             # KL = (1 - 0)^2 / 2
    assert res["history"].shape == (300,)
    t = res["critic"](torch.zeros(4, 1))
    assert t.shape == (4,)
    with pytest.raises(ValueError, match="steps must be > 0"):
        fgan.train_critic("kl", p, q, steps=0)


def test_critic_output_is_in_the_domain():
    critic = fgan.FCritic("rkl", dim=1, hidden=(8,))
    assert torch.all(critic(torch.randn(32, 1) * 10) < 0)


# ----------------------------------------------------------------------------- 1D f-GAN
def test_gaussian_generator():
    netG = fgan.GaussianGenerator1D(mu=1.5, sigma=0.5)
    assert (netG.mu, netG.sigma) == (1.5, pytest.approx(0.5))
    x = netG.sample(4000, seed=0)
    assert x.shape == (4000, 1)
    assert abs(x.mean().item() - 1.5) < 0.05 and abs(x.std().item() - 0.5) < 0.05
    grid = np.linspace(-5, 8, 2001)
    assert abs(netG.prob(grid).sum() * (grid[1] - grid[0]) - 1) < 1e-6
    with pytest.raises(ValueError, match="sigma must be > 0"):
        fgan.GaussianGenerator1D(sigma=0.0)


def test_fgan_objective_is_the_bound_and_reaches_the_generator():
    critic = fgan.FCritic("js", hidden=(8,))
    netG = fgan.GaussianGenerator1D()
    real = torch.randn(16, 1) + 2
    fake = netG.sample(16, seed=0)
    obj = fgan.fgan_objective("js", critic, real, fake)
    assert abs(obj.item() - fgan.variational_bound("js", critic(real), critic(fake)).item()) < 1e-6
    obj.backward()
    assert netG.loc.grad is not None and netG.log_scale.grad is not None


def test_train_fgan_moves_the_generator_to_a_single_gaussian():
    target = data.gaussian_mixture_1d([2.0], 0.5)
    res = fgan.train_fgan_1d("kl", target, steps=300, critic_steps=1, lr_g=2e-2, lr_t=2e-3,
                             mu0=0.0, sigma0=1.0, seed=0)
    assert abs(res["mu"] - 2.0) < 0.3 and abs(res["sigma"] - 0.5) < 0.25
    assert res["history"]["mu"].shape == (300,)
    with pytest.raises(ValueError, match="critic_steps must be > 0"):
        fgan.train_fgan_1d("kl", target, critic_steps=0)


def test_fit_exact_covers_with_kl_and_seeks_a_mode_with_reverse_kl():
    x = np.linspace(-12, 12, 2401)
    p = theory.density(data.gaussian_mixture_1d([-2.0, 2.0], 0.5), x)
    kl = fgan.fit_exact_1d("kl", x, p, mu0=1.0, sigma0=0.5)
    # KL(P || Q) over Gaussians Q is minimised by moment matching: var = 2^2 + 0.5^2
    assert abs(kl["mu"]) < 1e-3 and abs(kl["sigma"] - math.sqrt(4.25)) < 1e-3
    rkl = fgan.fit_exact_1d("rkl", x, p, mu0=1.0, sigma0=0.5)
    assert abs(rkl["mu"] - 2.0) < 1e-2 and abs(rkl["sigma"] - 0.5) < 1e-2
    assert abs(rkl["value"] - math.log(2)) < 1e-3   # one of two equal modes: KL(Q || P) = ln 2
    with pytest.raises(ValueError, match="at least 3 points"):
        fgan.fit_exact_1d("kl", [0.0, 1.0], [0.5, 0.5])
