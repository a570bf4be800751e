"""Tests for gancourse.analysis.theory: D*, max_D V = -2 ln 2 + 2 JS, trained 1D discriminators, the
shift game, and maximum likelihood = minimum KL (closed forms and failure paths)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from gancourse import data, losses
from gancourse.analysis import theory as th

GRID = np.linspace(-12.0, 12.0, 4801)


pytestmark = pytest.mark.usefixtures("one_thread")


def norm_pdf(mu: float, sigma: float = 1.0):
    return lambda x: stats.norm.pdf(x, mu, sigma)


def value_of(log_d: np.ndarray, log_1md: np.ndarray, p: np.ndarray, q: np.ndarray,
             dx: float) -> float:
    """V(G, D) = integral p log D + q log(1 - D) dx on a grid (test-side reference), from
    log D and log(1 - D) so that D* within 1e-16 of 0 or 1 in the tails stays finite."""
    return float(np.sum(p * log_d + q * log_1md) * dx)


# ----------------------------------------------------------------------------- D*
def test_dstar_is_half_where_densities_are_equal_and_hand_values():
    x = np.array([-1.0, 0.0, 2.0])
    assert np.allclose(th.optimal_discriminator(x, norm_pdf(0.3), norm_pdf(0.3)), 0.5)
    # N(-1, 1) and N(1, 1) cross at 0: D* = 1/2 there, sigmoid(-2x) in general
    d = th.optimal_discriminator(x, norm_pdf(-1.0), norm_pdf(1.0))
    assert d[1] == pytest.approx(0.5, abs=1e-15)
    assert np.allclose(d, 1 / (1 + np.exp(2 * x)), atol=1e-12)
    # arrays of density values: 0.3 / (0.3 + 0.1) = 0.75; data only -> 1; fakes only -> 0
    assert np.allclose(th.optimal_discriminator([0, 1, 2], [0.3, 0.2, 0.0], [0.1, 0.0, 0.4]),
                       [0.75, 1.0, 0.0])


def test_dstar_accepts_torch_densities():
    mix = data.gaussian_mixture_1d([-1.0, 1.0], 0.5)
    gauss = data.gaussian_mixture_1d([0.0], 1.0)
    x = np.linspace(-2, 2, 9)
    d = th.optimal_discriminator(x, mix.prob, gauss.prob)
    p, q = mix.prob(torch.as_tensor(x)).double().numpy(), gauss.prob(torch.as_tensor(x)).double().numpy()
    assert np.allclose(d, p / (p + q))


@pytest.mark.parametrize("p, q, match", [
    ([0.0, 0.1], [0.0, 0.2], "undefined at x = 0"),
    ([-0.1, 0.1], [0.2, 0.2], "density"),
    ([0.1, 0.1, 0.1], [0.2, 0.2], "3 values for 2 points"),
    ([np.nan, 0.1], [0.2, 0.2], "finite"),
])
def test_dstar_rejects_bad_densities(p, q, match):
    with pytest.raises(ValueError, match=match):
        th.optimal_discriminator([0.0, 1.0], p, q)


def test_dstar_rejects_bad_x():
    with pytest.raises(ValueError, match="1D array"):
        th.optimal_discriminator([[0.0, 1.0]], [0.1, 0.1], [0.1, 0.1])


# ----------------------------------------------------------------------------- V and JS
def test_optimal_value_closed_forms():
    assert th.optimal_value(0.0) == pytest.approx(-2 * math.log(2))
    assert th.optimal_value(math.log(2)) == pytest.approx(0.0, abs=1e-15)
    assert np.allclose(th.optimal_value([0.0, 0.1]), [-2 * math.log(2), -2 * math.log(2) + 0.2])
    for bad in (-0.1, 0.7, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, ln 2\]"):
            th.optimal_value(bad)


def test_js_on_grid_known_pairs():
    assert th.js_on_grid(GRID, norm_pdf(0.5), norm_pdf(0.5)) == 0.0
    assert th.js_on_grid(GRID, norm_pdf(-6, 0.3), norm_pdf(6, 0.3)) == pytest.approx(math.log(2), abs=1e-9)
    # uniform U[0, 1] vs U[0.5, 1.5]: JS = ln 2 * shift / width = ln 2 / 2 (up to O(dx))
    x = np.linspace(-1, 3, 40001)
    u = lambda a: ((x >= a) & (x < a + 1)).astype(float)  # noqa: E731
    assert th.js_on_grid(x, u(0.0), u(0.5)) == pytest.approx(math.log(2) / 2, abs=1e-3)


def test_js_on_grid_rejects_uneven_grid():
    with pytest.raises(ValueError, match="uniform grid"):
        th.js_on_grid([0.0, 1.0, 3.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5])


@pytest.mark.parametrize("mu_g, sigma_g", [(0.0, 1.0), (1.0, 1.0), (2.5, 0.7), (-1.0, 2.0)])
def test_max_over_d_of_value_is_minus_2ln2_plus_2js(mu_g, sigma_g):
    x = np.linspace(-16.0, 16.0, 6401)
    dx = x[1] - x[0]
    p, q = stats.norm.pdf(x, 0, 1), stats.norm.pdf(x, mu_g, sigma_g)
    dstar = th.optimal_discriminator(x, p, q)
    assert np.allclose(dstar, p / (p + q))
    log_pq = np.logaddexp(stats.norm.logpdf(x, 0, 1), stats.norm.logpdf(x, mu_g, sigma_g))
    v_star = value_of(stats.norm.logpdf(x, 0, 1) - log_pq,
                      stats.norm.logpdf(x, mu_g, sigma_g) - log_pq, p, q, dx)
    js = th.js_on_grid(x, p, q)
    assert v_star == pytest.approx(th.optimal_value(js), abs=1e-6)
    # any other discriminator does worse
    for other in (np.full_like(x, 0.3), np.clip(dstar + 0.05, 1e-6, 1 - 1e-6),
                  1 / (1 + np.exp(-x))):
        assert value_of(np.log(other), np.log1p(-other), p, q, dx) < v_star - 1e-4


# ----------------------------------------------------------------------------- error region
def test_non_negligible_and_dstar_max_error_by_hand():
    x = np.arange(5.0)
    p = np.array([1.0, 0.2, 0.04, 0.0, 0.0])
    q = np.array([0.0, 0.0, 0.0, 0.06, 1.0])
    assert th.non_negligible(p, q, x, rel=0.05).tolist() == [True, True, False, True, True]
    d = np.array([0.9, 0.9, 0.0, 0.3, 0.0])  # D* = [1, 1, 1, 0, 0]
    assert th.dstar_max_error(x, d, p, q, rel=0.05) == pytest.approx(0.3)  # x = 2 ignored
    assert th.dstar_max_error(x, d, p, q, rel=0.0) == pytest.approx(1.0)


def test_dstar_max_error_rejects_bad_input():
    x = np.arange(3.0)
    with pytest.raises(ValueError, match="2 values for 3 points"):
        th.dstar_max_error(x, [0.5, 0.5], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="rel must be"):
        th.non_negligible([1, 1, 1], [1, 1, 1], x, rel=1.5)


# ----------------------------------------------------------------------------- discriminators
def test_ensemble_shapes_and_independent_members():
    net = th.DiscriminatorEnsemble(3, hidden=8, generator=torch.Generator().manual_seed(0))
    assert net(torch.zeros(3, 5)).shape == (3, 5)
    out = net(torch.linspace(-1, 1, 7))  # (B,) goes to every member
    assert out.shape == (3, 7)
    assert not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match=r"\(3, B\)"):
        net(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="members >= 1"):
        th.DiscriminatorEnsemble(0)


def test_value_function_is_negated_bce():
    torch.manual_seed(0)
    real, fake = torch.randn(2, 50), torch.randn(2, 40)
    v = th.value_function(real, fake)
    assert v.shape == (2,)
    for e in range(2):
        assert v[e].item() == pytest.approx(-losses.d_loss_bce(real[e], fake[e]).item(), rel=1e-6)
    assert th.value_function(torch.zeros(10), torch.zeros(7)).item() == pytest.approx(-2 * math.log(2))
    with pytest.raises(ValueError, match="leading dimensions"):
        th.value_function(torch.zeros(2, 5), torch.zeros(3, 5))


def test_trained_discriminators_approach_dstar_and_the_js_bound():
    real = data.gaussian_mixture_1d([-1.0], 1.0)
    fakes = [data.gaussian_mixture_1d([1.0], 1.0), data.gaussian_mixture_1d([-1.0], 1.0)]
    state = torch.random.get_rng_state()
    net = th.train_discriminators(real, fakes, steps=300, batch_size=256, hidden=16, seed=0)
    assert torch.equal(state, torch.random.get_rng_state()), "global RNG must be left alone"
    x = np.linspace(-2.5, 2.5, 101)
    d = th.discriminator_on_grid(net, x)
    assert d.shape == (2, 101)
    assert np.max(np.abs(d[0] - 1 / (1 + np.exp(2 * x)))) < 0.1  # D* = sigmoid(-2x)
    assert np.max(np.abs(d[1] - 0.5)) < 0.1  # P_g = P_data: D* = 1/2
    v = th.estimate_value(net, real, fakes, n=50_000)
    v_star = th.optimal_value(np.array([th.js_on_grid(GRID, norm_pdf(-1), norm_pdf(1)), 0.0]))
    assert np.allclose(v, v_star, atol=0.02)


def test_training_and_estimation_reject_bad_arguments():
    real = data.gaussian_mixture_1d([0.0], 1.0)
    with pytest.raises(ValueError, match="at least one"):
        th.train_discriminators(real, [], steps=10)
    with pytest.raises(ValueError, match="steps >= 1"):
        th.train_discriminators(real, [real], steps=0)
    net = th.DiscriminatorEnsemble(2, hidden=4)
    with pytest.raises(ValueError, match="2 members but 1 fakes"):
        th.estimate_value(net, real, [real])
    with pytest.raises(ValueError, match="n must be"):
        th.estimate_value(net, real, [real, real], n=0)


# ----------------------------------------------------------------------------- shift game
def exact_gradient(theta: float, h: float = 1e-3) -> float:
    """d/dtheta (-2 ln 2 + 2 JS(N(0, 1) || N(theta, 1))) by central differences on GRID."""
    v = [th.optimal_value(th.js_on_grid(GRID, norm_pdf(0), norm_pdf(t))) for t in (theta - h, theta + h)]
    return (v[1] - v[0]) / (2 * h)


def test_shift_game_with_a_trained_d_hands_g_the_js_gradient():
    real = data.gaussian_mixture_1d([0.0], 1.0)
    out = th.shift_game(real, theta0=[1.5, -1.5], lr_g=0.0, d_steps=1, g_steps=3, d_warmup=300,
                        hidden=16, batch_size=256, seed=0)
    assert out["theta"].shape == (4, 2) and out["grad"].shape == (3, 2)
    assert np.all(out["theta"] == [1.5, -1.5]), "lr_g = 0 keeps theta fixed"
    g_star = exact_gradient(1.5)
    assert g_star > 0
    assert np.allclose(out["grad"][-1], [g_star, -g_star], rtol=0.2)


def test_shift_game_small_steps_approach_the_data():
    real = data.gaussian_mixture_1d([0.0], 1.0)
    out = th.shift_game(real, theta0=2.0, lr_g=1.0, d_steps=5, g_steps=8, d_warmup=100,
                        hidden=16, batch_size=256, g_batch_size=1024, seed=0)
    assert abs(out["theta"][-1, 0]) < 0.5 < 2.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr_g=-1.0), "lr_g must be >= 0"),
    (dict(g_steps=0), "g_steps >= 1"),
    (dict(d_warmup=-1), "d_warmup >= 0"),
    (dict(d_steps=0), "steps >= 1"),
    (dict(std=0.0), "std > 0"),
])
def test_shift_game_rejects_bad_arguments(kwargs, match):
    args = dict(theta0=1.0, lr_g=0.1, d_steps=1, g_steps=1) | kwargs
    with pytest.raises(ValueError, match=match):
        th.shift_game(data.gaussian_mixture_1d([0.0], 1.0), **args)


# ----------------------------------------------------------------------------- likelihood
def test_gaussian_mle_is_sample_mean_and_std():
    mu, sigma = th.gaussian_mle([1.0, 2.0, 3.0, 4.0])
    assert mu == 2.5 and sigma == pytest.approx(math.sqrt(1.25))  # divide by n, not n - 1
    x = np.random.default_rng(0).normal(3.0, 2.0, size=1000)
    assert np.allclose(th.gaussian_mle(x), stats.norm.fit(x))
    with pytest.raises(ValueError, match="at least 2"):
        th.gaussian_mle([1.0])


def test_mixture_model_density():
    model = th.MixtureModel1D([0.5], [2.0])
    x = np.linspace(-3, 3, 7)
    assert np.allclose(model.log_prob(x).detach().numpy(), stats.norm.logpdf(x, 0.5, 2.0), atol=1e-5)
    mix = th.MixtureModel1D([-1.0, 2.0], [0.5, 1.0], [0.3, 0.7])
    ref = data.gaussian_mixture_1d([-1.0, 2.0], [0.5, 1.0], [0.3, 0.7])
    assert torch.allclose(mix.log_prob(x), ref.log_prob(torch.as_tensor(x)), atol=1e-5)
    assert mix.prob(GRID).sum().item() * (GRID[1] - GRID[0]) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="same length"):
        th.MixtureModel1D([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="> 0"):
        th.MixtureModel1D([0.0], [-1.0])


def test_density_keeps_far_tails_positive():
    mix = data.gaussian_mixture_1d([0.0], 0.5)
    x = np.array([0.0, 10.0])
    p = th.density(mix, x)
    assert p.dtype == np.float64 and p[0] == pytest.approx(stats.norm.pdf(0, 0, 0.5), rel=1e-6)
    assert p[1] == pytest.approx(stats.norm.pdf(10, 0, 0.5), rel=1e-4)   # ~1e-87: float32 gives 0
    assert mix.prob(torch.as_tensor(x))[1].item() == 0.0
    with pytest.raises(ValueError, match="1D distribution"):
        th.density(data.ring8(), x)


def test_fit_mle_reaches_the_closed_form_and_kl_falls_as_likelihood_rises():
    target = data.gaussian_mixture_1d([-1.5, 1.5], [0.5, 0.7], [0.4, 0.6])
    x = target.sample(20_000, seed=0).squeeze(1).numpy()
    model = th.MixtureModel1D([0.0], [1.0])
    hist = th.fit_mle(model, x, steps=300, lr=0.05, grid=GRID, p_data=target.prob)
    assert hist["step"].tolist() == list(range(301))
    mu, sigma = th.gaussian_mle(x)
    assert model.means.item() == pytest.approx(mu, abs=1e-3)
    assert model.log_stds.exp().item() == pytest.approx(sigma, abs=1e-3)
    assert hist["log_likelihood"][-1] > hist["log_likelihood"][0] + 0.1
    assert hist["kl"][-1] < hist["kl"][0] - 0.1
    # KL + E[log p_theta] = -H(P_data) does not depend on theta; the sample mean stands in for
    # E[log p_theta], so the sum moves far less than either term
    total = hist["kl"] + hist["log_likelihood"]
    assert np.ptp(total) < 0.1 * np.ptp(hist["kl"])


def test_fit_mle_rejects_bad_input():
    model = th.MixtureModel1D([0.0], [1.0])
    with pytest.raises(ValueError, match="both grid and p_data"):
        th.fit_mle(model, [0.0, 1.0], steps=1, grid=GRID)
    with pytest.raises(ValueError, match="at least 2"):
        th.fit_mle(model, [0.0], steps=1)
    with pytest.raises(ValueError, match="steps >= 1"):
        th.fit_mle(model, [0.0, 1.0], steps=0)
