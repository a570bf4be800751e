"""Tests for gancourse.divergences: closed forms, hand-computed transport, failure paths."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cdist

from gancourse.divergences import (
    LN2,
    emd_brute_force,
    emd_discrete,
    emd_point_clouds,
    hellinger_squared,
    js_divergence,
    js_from_discriminator,
    kl_divergence,
    parallel_lines_divergences,
    parallel_lines_w1_from_samples,
    pearson_chi2,
    reverse_kl_divergence,
    shifted_pair_divergences,
    total_variation,
    wasserstein_1d,
)

PAIR_FNS = [kl_divergence, reverse_kl_divergence, js_divergence, total_variation,
            pearson_chi2, hellinger_squared]
DISJOINT_P = np.array([0.2, 0.3, 0.5, 0.0, 0.0])
DISJOINT_Q = np.array([0.0, 0.0, 0.0, 0.4, 0.6])


def gaussian_grid(m1: float, s1: float, m2: float, s2: float):
    """Two Gaussian densities on a fine grid covering both to +-12 sigma, and the step."""
    lo = min(m1 - 12 * s1, m2 - 12 * s2)
    hi = max(m1 + 12 * s1, m2 + 12 * s2)
    x = np.linspace(lo, hi, 40001)
    return stats.norm.pdf(x, m1, s1), stats.norm.pdf(x, m2, s2), x[1] - x[0]


# ----------------------------------------------------------------------------- f-divergences
def test_js_of_identical_is_zero_and_disjoint_is_ln2():
    p = np.array([0.1, 0.4, 0.5])
    assert js_divergence(p, p) == 0.0
    assert abs(js_divergence(DISJOINT_P, DISJOINT_Q) - math.log(2)) < 1e-12
    assert LN2 == math.log(2)


def test_js_symmetric_kl_not():
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p), abs=1e-15)
    kl_pq = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    kl_qp = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert kl_divergence(p, q) == pytest.approx(kl_pq, rel=1e-12)
    assert kl_divergence(q, p) == pytest.approx(kl_qp, rel=1e-12)
    assert abs(kl_pq - kl_qp) > 0.1
    assert reverse_kl_divergence(p, q) == pytest.approx(kl_qp, rel=1e-12)


def test_js_hand_value():
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])  # M = (0.75, 0.25)
    expected = 0.5 * math.log(1 / 0.75) + 0.5 * (0.5 * math.log(0.5 / 0.75)
                                                   + 0.5 * math.log(0.5 / 0.25))
    assert js_divergence(p, q) == pytest.approx(expected, rel=1e-12)


def test_disjoint_supports_tv_one_kl_inf():
    assert total_variation(DISJOINT_P, DISJOINT_Q) == 1.0
    assert kl_divergence(DISJOINT_P, DISJOINT_Q) == math.inf
    assert reverse_kl_divergence(DISJOINT_P, DISJOINT_Q) == math.inf
    assert pearson_chi2(DISJOINT_P, DISJOINT_Q) == math.inf
    assert hellinger_squared(DISJOINT_P, DISJOINT_Q) == pytest.approx(1.0, abs=1e-15)


def test_zero_mass_conventions():
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    # 0 log 0 = 0: P lacks mass Q has -> finite KL(P||Q), infinite KL(Q||P).
    assert kl_divergence(p, q) == pytest.approx(math.log(2), rel=1e-12)
    assert kl_divergence(q, p) == math.inf
    assert pearson_chi2(p, q) == pytest.approx(1.0, rel=1e-12)  # 0.25/0.5 + 0.25/0.5
    assert pearson_chi2(q, p) == math.inf
    assert total_variation(p, q) == pytest.approx(0.5, rel=1e-12)
    assert hellinger_squared(p, q) == pytest.approx(1 - math.sqrt(0.5), rel=1e-12)
    # Cells where both are empty contribute nothing.
    assert pearson_chi2([0.5, 0.5, 0.0], [0.25, 0.75, 0.0]) == pytest.approx(1 / 3, rel=1e-12)


def test_histograms_are_normalised():
    assert kl_divergence([2, 2], [1, 3]) == pytest.approx(kl_divergence([0.5, 0.5], [0.25, 0.75]))
    assert js_divergence([10, 0], [0, 3]) == pytest.approx(math.log(2), abs=1e-12)


def test_chi2_closed_form_simple_pair():
    # (0.25^2) / 0.25 + (0.25^2) / 0.75 = 1/3
    assert pearson_chi2([0.5, 0.5], [0.25, 0.75]) == pytest.approx(1 / 3, rel=1e-12)


def test_bounds_on_random_histograms_with_zeros():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(6) * (rng.random(6) < 0.6)
        q = rng.random(6) * (rng.random(6) < 0.6)
        p[0] += 0.1
        q[-1] += 0.1
        js = js_divergence(p, q)
        assert 0.0 <= js <= math.log(2) and math.isfinite(js)
        assert 0.0 <= total_variation(p, q) <= 1.0
        assert 0.0 <= hellinger_squared(p, q) <= 1.0
        assert kl_divergence(p, q) >= 0.0
        # Known orderings: H^2 <= TV, and Pinsker TV <= sqrt(KL / 2).
        assert hellinger_squared(p, q) <= total_variation(p, q) + 1e-12
        assert total_variation(p, q) <= math.sqrt(kl_divergence(p, q) / 2) + 1e-12


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 1.5, 1.0), (0.3, 0.8, -0.4, 1.6)])
def test_kl_gaussians_on_grid_vs_closed_form(m1, s1, m2, s2):
    p, q, dx = gaussian_grid(m1, s1, m2, s2)
    closed = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    assert kl_divergence(p, q, dx=dx) == pytest.approx(closed, rel=1e-6)
    reverse = math.log(s1 / s2) + (s2**2 + (m1 - m2) ** 2) / (2 * s1**2) - 0.5
    assert reverse_kl_divergence(p, q, dx=dx) == pytest.approx(reverse, rel=1e-6)
    h2 = 1 - math.sqrt(2 * s1 * s2 / (s1**2 + s2**2)) * math.exp(
        -((m1 - m2) ** 2) / (4 * (s1**2 + s2**2)))
    assert hellinger_squared(p, q, dx=dx) == pytest.approx(h2, rel=1e-6)


def test_chi2_and_tv_gaussians_on_grid():
    delta = 0.8
    p, q, dx = gaussian_grid(0.0, 1.0, delta, 1.0)
    assert pearson_chi2(p, q, dx=dx) == pytest.approx(math.exp(delta**2) - 1, rel=1e-6)
    assert total_variation(p, q, dx=dx) == pytest.approx(2 * stats.norm.cdf(delta / 2) - 1,
                                                         rel=1e-6)


def test_density_with_dx_equals_histogram_of_cell_masses():
    p, q, dx = gaussian_grid(0.0, 1.0, 1.0, 2.0)
    for fn in PAIR_FNS:
        assert fn(p, q, dx=dx) == pytest.approx(fn(p * dx, q * dx), rel=1e-12)


def test_density_must_integrate_to_one_and_dx_positive():
    p, q, dx = gaussian_grid(0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="integrates to"):
        kl_divergence(p, q, dx=dx / 2)
    with pytest.raises(ValueError, match="integrates to"):
        js_divergence(p[: p.size // 2], q[: q.size // 2], dx=dx)  # grid cut at the middle
    for bad in (0.0, -dx, math.nan, math.inf):
        with pytest.raises(ValueError, match="dx"):
            js_divergence(p, q, dx=bad)


@pytest.mark.parametrize("fn", PAIR_FNS, ids=lambda f: f.__name__)
def test_pair_failure_paths(fn):
    with pytest.raises(ValueError, match="negative mass"):
        fn([0.5, -0.1, 0.6], [0.3, 0.3, 0.4])
    with pytest.raises(ValueError, match="zero total"):
        fn([0.5, 0.5], [0.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        fn([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="1D"):
        fn(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="1D"):
        fn([], [])
    with pytest.raises(ValueError, match="finite"):
        fn([0.5, math.nan], [0.5, 0.5])


# ----------------------------------------------------------------------------- Wasserstein-1
def test_wasserstein_1d_matches_scipy_and_pot():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 300), rng.exponential(1.0, 170)  # unequal sizes
    w = wasserstein_1d(x, y)
    assert w == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-10)
    assert w == pytest.approx(ot.wasserstein_1d(x, y, p=1), rel=1e-10)
    wx, wy = rng.random(300), rng.random(170)
    w = wasserstein_1d(x, y, wx, wy)
    assert w == pytest.approx(stats.wasserstein_distance(x, y, wx, wy), rel=1e-10)
    assert w == pytest.approx(ot.wasserstein_1d(x, y, wx / wx.sum(), wy / wy.sum(), p=1),
                              rel=1e-10)


def test_wasserstein_1d_hand_cases():
    rng = np.random.default_rng(2)
    x = rng.normal(size=200)
    for t in (-2.5, 0.0, 0.7):
        assert wasserstein_1d(x, x + t) == pytest.approx(abs(t), abs=1e-12)
    assert wasserstein_1d([0.0], [3.0]) == pytest.approx(3.0)  # two point masses
    # 1/2 d_0 + 1/2 d_1 vs d_1: move half a unit over distance 1.
    assert wasserstein_1d([0.0, 1.0], [1.0]) == pytest.approx(0.5)
    assert wasserstein_1d([0.0, 1.0], [0.0, 1.0], [3, 1], [1, 3]) == pytest.approx(0.5)


def test_wasserstein_1d_failure_paths():
    with pytest.raises(ValueError, match="x_weights has 2 entries"):
        wasserstein_1d([0.0, 1.0, 2.0], [1.0], x_weights=[1, 1])
    with pytest.raises(ValueError, match="negative mass"):
        wasserstein_1d([0.0, 1.0], [1.0], x_weights=[1, -1])
    with pytest.raises(ValueError, match="non-empty 1D"):
        wasserstein_1d([], [1.0])


def test_emd_discrete_1d_matches_cdf_formula_and_plan_marginals():
    rng = np.random.default_rng(3)
    xs, ys = rng.normal(size=7), rng.normal(1, 2, size=5)
    a, b = rng.random(7), rng.random(5)
    a, b = a / a.sum(), b / b.sum()
    cost, plan = emd_discrete(a, b, xs, ys)
    assert cost == pytest.approx(wasserstein_1d(xs, ys, a, b), rel=1e-9)
    assert cost == pytest.approx(ot.wasserstein_1d(xs, ys, a, b, p=1), rel=1e-9)
    assert plan.shape == (7, 5) and np.all(plan >= 0)
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
    np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-12)


def test_emd_discrete_piles_of_earth_by_hand():
    # Piles 2, 1, 0 at x = 0, 1, 2 into holes 0, 1, 2: |F - G| = 2 on [0, 1] and 2 on [1, 2].
    cost, plan = emd_discrete([2, 1, 0], [0, 1, 2], [0.0, 1.0, 2.0])
    assert cost == pytest.approx(4.0)
    np.testing.assert_allclose(plan.sum(axis=1), [2, 1, 0])
    np.testing.assert_allclose(plan.sum(axis=0), [0, 1, 2])
    # Two point masses in 2D: distance 5 (3-4-5 triangle); squared metric gives 25.
    assert emd_discrete([1.0], [1.0], [[0.0, 0.0]], [[3.0, 4.0]])[0] == pytest.approx(5.0)
    sq = emd_discrete([1.0], [1.0], [[0.0, 0.0]], [[3.0, 4.0]], metric="sqeuclidean")[0]
    assert sq == pytest.approx(25.0)


def test_emd_discrete_failure_paths():
    with pytest.raises(ValueError, match="same total mass"):
        emd_discrete([1, 1], [1, 2], [0.0, 1.0])
    with pytest.raises(ValueError, match="each mass needs one point"):
        emd_discrete([1, 1], [2], [0.0, 1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="same dimension"):
        emd_discrete([1], [1], [[0.0, 0.0]], [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="negative mass"):
        emd_discrete([1, -1, 1], [1], [0.0, 1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, d\)"):
        emd_discrete([1], [1], np.zeros((1, 1, 1)))


def test_emd_brute_force_hand_3x3():
    # Unit piles: the plans are the 6 permutations; costs 6, 11, 5, 9, 7, 6 -> best 5.
    cost_matrix = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    cost, plan = emd_brute_force([1, 1, 1], [1, 1, 1], cost_matrix)
    assert cost == 5.0
    np.testing.assert_array_equal(plan, [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    lp_cost = float(np.sum(ot.emd(np.ones(3), np.ones(3), cost_matrix) * cost_matrix))
    assert lp_cost == pytest.approx(5.0)


def test_emd_brute_force_equals_lp_on_random_tiny_cases():
    rng = np.random.default_rng(4)
    for trial in range(12):
        n, m = rng.integers(1, 4, size=2)
        a = rng.integers(0, 4, size=n)
        a[0] += 1
        total = int(a.sum())
        b = rng.multinomial(total, np.full(m, 1.0 / m))
        xs, ys = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
        cost_bf, plan_bf = emd_brute_force(a, b, cdist(xs, ys))
        cost_lp, plan_lp = emd_discrete(a, b, xs, ys)
        assert cost_bf == pytest.approx(cost_lp, rel=1e-9, abs=1e-12), trial
        np.testing.assert_array_equal(plan_bf.sum(axis=1), a)
        np.testing.assert_array_equal(plan_bf.sum(axis=0), b)


def test_emd_brute_force_failure_paths():
    with pytest.raises(ValueError, match="max_plans"):
        emd_brute_force(np.ones(8), np.ones(8), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="whole numbers"):
        emd_brute_force([0.5, 0.5], [1], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="same number of units"):
        emd_brute_force([1, 1], [1], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="shape"):
        emd_brute_force([1, 1], [2], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        emd_brute_force([1], [1], [[math.inf]])


def test_emd_point_clouds_translation_and_marginals():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))
    t = np.array([0.3, -1.2, 0.4])
    cost, plan = emd_point_clouds(x, x + t)
    assert cost == pytest.approx(np.linalg.norm(t), rel=1e-9)  # W1 of a translation is |t|
    y = rng.normal(size=(25, 3))
    cost, plan = emd_point_clouds(x, y)
    assert plan.shape == (40, 25)
    np.testing.assert_allclose(plan.sum(axis=1), np.full(40, 1 / 40), atol=1e-12)
    np.testing.assert_allclose(plan.sum(axis=0), np.full(25, 1 / 25), atol=1e-12)
    assert cost == pytest.approx(float(np.sum(ot.emd([], [], cdist(x, y)) * cdist(x, y))))
    # 1D clouds agree with the CDF formula.
    assert emd_point_clouds(x[:, 0], y[:, 0])[0] == pytest.approx(
        wasserstein_1d(x[:, 0], y[:, 0]), rel=1e-9)
    with pytest.raises(ValueError, match="same dimension"):
        emd_point_clouds(x, y[:, :2])


# ----------------------------------------------------------------------------- parallel lines
def test_parallel_lines_closed_forms():
    for theta in (0.5, -2.0, 1e-6):
        d = parallel_lines_divergences(theta)
        assert d == {"js": math.log(2), "kl": math.inf, "tv": 1.0, "w1": abs(theta)}
    assert parallel_lines_divergences(0.0) == {"js": 0.0, "kl": 0.0, "tv": 0.0, "w1": 0.0}
    with pytest.raises(ValueError, match="finite"):
        parallel_lines_divergences(math.nan)


def test_parallel_lines_w1_from_samples_approaches_theta():
    w = parallel_lines_w1_from_samples(1.0, n=200, seed=0)
    assert 1.0 - 1e-9 <= w < 1.005  # horizontal moves alone cost |theta|
    w0_small = parallel_lines_w1_from_samples(0.0, n=50, seed=0)
    w0_large = parallel_lines_w1_from_samples(0.0, n=400, seed=0)
    assert w0_large < w0_small and w0_large < 0.05
    with pytest.raises(ValueError, match="n must be"):
        parallel_lines_w1_from_samples(1.0, n=0)


# ----------------------------------------------------------------------------- sample-based JS
def test_js_from_discriminator_identical_and_disjoint():
    rng = np.random.default_rng(6)
    state = torch.random.get_rng_state()
    same = js_from_discriminator(rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2)))
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert abs(same["js"]) < 0.05
    assert same["v"] == pytest.approx(2 * same["js"] - 2 * math.log(2))
    real, fake = rng.normal(-5, 0.5, size=1000), rng.normal(5, 0.5, size=1000)
    disjoint = js_from_discriminator(real, fake)
    assert abs(disjoint["js"] - math.log(2)) < 0.05
    netD = disjoint["discriminator"]
    with torch.no_grad():
        d_real = torch.sigmoid(netD(torch.tensor(real[:, None], dtype=torch.float32)))
        d_fake = torch.sigmoid(netD(torch.tensor(fake[:, None], dtype=torch.float32)))
    assert d_real.shape == (1000, 1)
    assert d_real.min() > 0.9 and d_fake.max() < 0.1


def test_js_from_discriminator_overlapping_gaussians():
    p, q, dx = gaussian_grid(0.0, 1.0, 1.0, 1.0)
    js_true = js_divergence(p, q, dx=dx)
    rng = np.random.default_rng(7)
    est = js_from_discriminator(rng.normal(0, 1, 8000), rng.normal(1, 1, 8000), seed=0)
    assert est["js"] == pytest.approx(js_true, rel=0.10)


def test_js_from_discriminator_failure_paths():
    with pytest.raises(ValueError, match="same dimension"):
        js_from_discriminator(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="samples"):
        js_from_discriminator(np.zeros((0, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="steps >= 1"):
        js_from_discriminator(np.zeros(5), np.ones(5), steps=0)


# ----------------------------------------------------------------------------- slider helper
@pytest.mark.parametrize("shift", [0.0, 0.5, -1.5, 4.0])
def test_shifted_gaussians_closed_forms(shift):
    width = 0.7
    d = shifted_pair_divergences(shift, width, kind="gaussian")
    assert d["kl"] == pytest.approx(shift**2 / (2 * width**2), rel=1e-4, abs=1e-9)
    assert d["tv"] == pytest.approx(2 * stats.norm.cdf(abs(shift) / (2 * width)) - 1, abs=1e-4)
    assert d["w1"] == pytest.approx(abs(shift), abs=1e-9)
    assert 0.0 <= d["js"] <= math.log(2)
    dx = d["x"][1] - d["x"][0]
    assert d["p"].sum() * dx == pytest.approx(1.0) and d["q"].sum() * dx == pytest.approx(1.0)


@pytest.mark.parametrize("shift", [0.25, 0.6, 1.0, 3.0])
def test_shifted_uniform_closed_forms(shift):
    d = shifted_pair_divergences(shift, 1.0, kind="uniform")
    dx = d["x"][1] - d["x"][0]  # the bump edges put O(dx) error on every value
    overlap_lost = min(abs(shift), 1.0)
    assert d["js"] == pytest.approx(math.log(2) * overlap_lost, abs=dx)
    assert d["tv"] == pytest.approx(overlap_lost, abs=dx)
    assert d["kl"] == math.inf
    assert d["w1"] == pytest.approx(abs(shift), abs=dx)
    assert shifted_pair_divergences(0.0, 1.0, kind="uniform")["kl"] == 0.0


def test_shifted_pair_custom_grid_and_failures():
    grid = np.linspace(-5, 7, 1201)
    d = shifted_pair_divergences(2.0, 0.5, kind="gaussian", grid=grid)
    assert d["w1"] == pytest.approx(2.0, abs=1e-9)
    np.testing.assert_array_equal(d["x"], grid)
    with pytest.raises(ValueError, match="valid kinds"):
        shifted_pair_divergences(1.0, kind="cauchy")
    with pytest.raises(ValueError, match="width"):
        shifted_pair_divergences(1.0, width=0.0)
    with pytest.raises(ValueError, match="shift"):
        shifted_pair_divergences(math.inf)
    with pytest.raises(ValueError, match="widen"):
        shifted_pair_divergences(5.0, 1.0, grid=np.linspace(-3, 3, 101))
    with pytest.raises(ValueError, match="evenly spaced"):
        shifted_pair_divergences(1.0, grid=np.array([0.0, 1.0, 3.0]))
