"""Divergences and optimal transport for the toy lessons (notebooks 01, 03, 06).

Everything is in nats (natural log). Four groups:

* f-divergences between two discrete histograms, or two densities sampled on a uniform
  grid (pass ``dx``): :func:`kl_divergence`, :func:`reverse_kl_divergence`,
  :func:`js_divergence`, :func:`total_variation`, :func:`pearson_chi2`,
  :func:`hellinger_squared`.
* The Earth Mover's distance (Wasserstein-1): :func:`wasserstein_1d` (samples, CDF formula),
  :func:`emd_discrete` (exact LP through POT), :func:`emd_brute_force` (enumerates every
  integer plan of a tiny "piles of earth" problem), :func:`emd_point_clouds`.
* The parallel-lines example of the WGAN paper: :func:`parallel_lines_divergences`,
  :func:`parallel_lines_w1_from_samples`.
* Sample-based JS through a trained discriminator (:func:`js_from_discriminator`) and the
  slider helper :func:`shifted_pair_divergences`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import ot
import torch
from scipy import stats
from scipy.spatial.distance import cdist
from scipy.special import rel_entr
from torch import nn
from torch.nn import functional as F

LN2 = math.log(2.0)

# A density passed with ``dx`` must integrate to 1 within this relative tolerance on its grid.
DENSITY_MASS_RTOL = 0.02


# ----------------------------------------------------------------------------- validation
def _vector(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def _masses(x: Any, name: str) -> np.ndarray:
    """A non-negative 1D array with positive total (not normalised)."""
    arr = _vector(x, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative mass (min {arr.min():g}); masses must be >= 0")
    if arr.sum() <= 0:
        raise ValueError(f"{name} has zero total mass; at least one entry must be > 0")
    return arr


def _pair(p: Any, q: Any, dx: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate two histograms (or grid densities when ``dx`` is given), return probabilities."""
    p, q = _masses(p, "p"), _masses(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length; got {p.size} and {q.size}")
    if dx is not None:
        if not (math.isfinite(dx) and dx > 0):
            raise ValueError(f"dx must be a finite grid step > 0; got {dx!r}")
        for name, dens in (("p", p), ("q", q)):
            total = float(dens.sum() * dx)
            if abs(total - 1.0) > DENSITY_MASS_RTOL:
                raise ValueError(
                    f"density {name} integrates to {total:.4f} on this grid (sum * dx), not 1; "
                    "widen or refine the grid, or pass histograms without dx"
                )
    return p / p.sum(), q / q.sum()


# ----------------------------------------------------------------------------- f-divergences
_PAIR_DOC = """
    ``p`` and ``q`` are 1D arrays of the same length: histograms (non-negative masses,
    normalised here to sum 1), or, when ``dx`` is given, density values on a uniform grid
    of step ``dx``. A density must integrate to 1 on its grid (``sum(p) * dx`` within
    ``DENSITY_MASS_RTOL``); the integral is the Riemann sum with step ``dx``, so the result
    equals the histogram divergence of the cell masses ``p_i dx``. Raises ``ValueError`` for
    negative mass, zero total, mismatched lengths or a density that does not integrate to 1.
"""


def kl_divergence(p: Any, q: Any, *, dx: float | None = None) -> float:
    """KL(P || Q) = sum_i p_i log(p_i / q_i)   (density: integral p log(p/q) dx).

    Conventions: 0 log(0/q) = 0, and KL = inf when P puts mass where Q has none
    (p_i > 0 = q_i). Not symmetric. Mode covering when minimised over Q.
    """
    p, q = _pair(p, q, dx)
    return float(np.sum(rel_entr(p, q)))


def reverse_kl_divergence(p: Any, q: Any, *, dx: float | None = None) -> float:
    """Reverse KL: KL(Q || P) = sum_i q_i log(q_i / p_i); inf where q_i > 0 = p_i.

    Mode seeking when minimised over Q.
    """
    p, q = _pair(p, q, dx)
    return float(np.sum(rel_entr(q, p)))


def js_divergence(p: Any, q: Any, *, dx: float | None = None) -> float:
    """JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M),  M = (P + Q) / 2.

    Symmetric, always finite, 0 <= JS <= ln 2, with JS = ln 2 exactly when the supports are
    disjoint (the result is clipped to [0, ln 2] to remove rounding).
    """
    p, q = _pair(p, q, dx)
    m = 0.5 * (p + q)
    js = 0.5 * np.sum(rel_entr(p, m)) + 0.5 * np.sum(rel_entr(q, m))
    return float(np.clip(js, 0.0, LN2))


def total_variation(p: Any, q: Any, *, dx: float | None = None) -> float:
    """TV(P, Q) = 1/2 sum_i |p_i - q_i| = sup_A |P(A) - Q(A)|.

    In [0, 1], with TV = 1 exactly when the supports are disjoint.
    """
    p, q = _pair(p, q, dx)
    return float(np.clip(0.5 * np.sum(np.abs(p - q)), 0.0, 1.0))


def pearson_chi2(p: Any, q: Any, *, dx: float | None = None) -> float:
    """Pearson chi^2(P || Q) = sum_i (p_i - q_i)^2 / q_i = sum_i p_i^2 / q_i - 1.

    Cells with p_i = q_i = 0 contribute 0; chi^2 = inf when p_i > 0 = q_i.
    """
    p, q = _pair(p, q, dx)
    if np.any((q == 0) & (p > 0)):
        return math.inf
    keep = q > 0
    return float(np.sum((p[keep] - q[keep]) ** 2 / q[keep]))


def hellinger_squared(p: Any, q: Any, *, dx: float | None = None) -> float:
    """Squared Hellinger distance H^2(P, Q) = 1/2 sum_i (sqrt p_i - sqrt q_i)^2.

    Equivalently H^2 = 1 - sum_i sqrt(p_i q_i) (one minus the Bhattacharyya coefficient).

    Convention: with the 1/2 factor, so H^2 is in [0, 1] (1 for disjoint supports). The
    f-GAN paper's "squared Hellinger" sum (sqrt p - sqrt q)^2 is twice this value.
    """
    p, q = _pair(p, q, dx)
    return float(np.clip(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2), 0.0, 1.0))


for _fn in (kl_divergence, reverse_kl_divergence, js_divergence, total_variation,
            pearson_chi2, hellinger_squared):
    _fn.__doc__ = (_fn.__doc__ or "") + _PAIR_DOC


# ----------------------------------------------------------------------------- Wasserstein-1
def _weights(w: Any, n: int, name: str) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    w = _masses(w, name)
    if w.size != n:
        raise ValueError(f"{name} has {w.size} entries but there are {n} samples")
    return w / w.sum()


def wasserstein_1d(x: Any, y: Any, x_weights: Any = None, y_weights: Any = None) -> float:
    """W1 between two 1D empirical distributions: W1 = integral |F(t) - G(t)| dt.

    ``x`` (n,) and ``y`` (m,) are samples (n and m may differ), with optional non-negative
    weights (normalised here; uniform by default). F and G are the weighted empirical CDFs;
    both are step functions, so the integral is an exact sum over the sorted pooled samples:
    W1 = sum_k |F(t_k) - G(t_k)| (t_{k+1} - t_k).
    """
    x, y = _vector(x, "x"), _vector(y, "y")
    wx, wy = _weights(x_weights, x.size, "x_weights"), _weights(y_weights, y.size, "y_weights")
    ix, iy = np.argsort(x), np.argsort(y)
    x, wx, y, wy = x[ix], wx[ix], y[iy], wy[iy]
    t = np.sort(np.concatenate([x, y]))  # (n + m,)
    cdf_x = np.concatenate([[0.0], np.cumsum(wx)])[np.searchsorted(x, t[:-1], side="right")]
    cdf_y = np.concatenate([[0.0], np.cumsum(wy)])[np.searchsorted(y, t[:-1], side="right")]
    return float(np.sum(np.abs(cdf_x - cdf_y) * np.diff(t)))


def _points(x: Any, name: str) -> np.ndarray:
    """Support points as (n, d): a 1D array is n points on the line."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be (n,) or (n, d) points with n >= 1; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def emd_discrete(a: Any, b: Any, xs: Any, ys: Any = None,
                 metric: str = "euclidean") -> tuple[float, np.ndarray]:
    """Earth Mover's distance between sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j}, exactly.

    Solves the transport LP  min_gamma sum_ij gamma_ij c(x_i, y_j)  subject to gamma >= 0,
    gamma 1 = a, gamma^T 1 = b, with POT's network simplex (``ot.emd``). ``xs`` (n,) or
    (n, d) are a's support points, ``ys`` b's (default: the same points as ``xs``); ``metric``
    is any ``scipy.spatial.distance.cdist`` metric (``"euclidean"`` gives W1). ``a`` and ``b``
    are non-negative masses with equal totals and are not normalised: with probability
    vectors the cost is W1, with piles of earth it is the total work (mass x distance).

    Returns ``(cost, plan)`` with ``plan`` the optimal (n, m) coupling gamma.
    """
    a, b = _masses(a, "a"), _masses(b, "b")
    xs = _points(xs, "xs")
    ys = xs if ys is None else _points(ys, "ys")
    if xs.shape[0] != a.size or ys.shape[0] != b.size:
        raise ValueError(f"a has {a.size} masses for {xs.shape[0]} points xs and b has {b.size} "
                         f"masses for {ys.shape[0]} points ys; each mass needs one point")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"xs and ys must have the same dimension; got {xs.shape[1]} and "
                         f"{ys.shape[1]}")
    if not math.isclose(a.sum(), b.sum(), rel_tol=1e-9):
        raise ValueError(f"a and b must have the same total mass; got {a.sum():g} and "
                         f"{b.sum():g}")
    cost_matrix = cdist(xs, ys, metric=metric)  # (n, m)
    plan = ot.emd(a, b, cost_matrix)  # (n, m)
    return float(np.sum(plan * cost_matrix)), plan


def _integer_masses(x: Any, name: str) -> np.ndarray:
    arr = _masses(x, name)
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must hold whole numbers of earth units; got {arr}")
    return arr.astype(np.int64)


def _row_fillings(total: int, caps: np.ndarray) -> Iterator[tuple[int, ...]]:
    """Every way to split ``total`` units over columns with remaining capacities ``caps``."""
    if caps.size == 1:
        if total <= caps[0]:
            yield (total,)
        return
    for k in range(min(total, int(caps[0])) + 1):
        for rest in _row_fillings(total - k, caps[1:]):
            yield (k, *rest)


def _plans(a: np.ndarray, caps: np.ndarray) -> Iterator[list[tuple[int, ...]]]:
    """Every integer plan whose row sums are ``a`` and column sums are ``caps``."""
    if a.size == 0:
        yield []
        return
    for row in _row_fillings(int(a[0]), caps):
        for rest in _plans(a[1:], caps - np.asarray(row)):
            yield [row, *rest]


def emd_brute_force(a: Any, b: Any, cost_matrix: Any,
                    max_plans: int = 100_000) -> tuple[float, np.ndarray]:
    """Exact EMD of a tiny "piles of earth" problem by trying every integer transport plan.

    ``a`` (n,) and ``b`` (m,) are whole numbers of earth units with equal totals and
    ``cost_matrix`` (n, m) the cost of moving one unit from pile i to hole j. With integer
    marginals every vertex of the transport polytope is an integer plan (the constraint
    matrix is totally unimodular), so the best integer plan is the LP optimum; this is what
    lets us check :func:`emd_discrete` by hand. For unit piles (a = b = 1) the plans are the
    n! permutations. Limited on purpose: raises ``ValueError`` when the number of plans to
    try could exceed ``max_plans`` (bound: prod_i C(a_i + m - 1, m - 1)).

    Returns ``(cost, plan)`` like :func:`emd_discrete`.
    """
    a, b = _integer_masses(a, "a"), _integer_masses(b, "b")
    cost = np.asarray(cost_matrix, dtype=np.float64)
    if cost.shape != (a.size, b.size):
        raise ValueError(f"cost_matrix must have shape (len(a), len(b)) = {(a.size, b.size)}; "
                         f"got {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost_matrix must contain only finite values")
    if a.sum() != b.sum():
        raise ValueError(f"a and b must hold the same number of units; got {a.sum()} and "
                         f"{b.sum()}")
    bound = math.prod(math.comb(int(ai) + b.size - 1, b.size - 1) for ai in a)
    if bound > max_plans:
        raise ValueError(f"brute force would try up to {bound} plans (> max_plans={max_plans}); "
                         "use fewer piles or units, or emd_discrete for an exact LP")
    best_cost, best_plan = math.inf, None
    for rows in _plans(a, b):
        plan = np.asarray(rows, dtype=np.float64)  # (n, m)
        total = float(np.sum(plan * cost))
        if total < best_cost:
            best_cost, best_plan = total, plan
    return best_cost, best_plan


def emd_point_clouds(x: Any, y: Any, metric: str = "euclidean") -> tuple[float, np.ndarray]:
    """Exact W1 between two point clouds with uniform weights 1/n and 1/m (POT ``ot.emd``).

    ``x`` (n, d) and ``y`` (m, d) (or 1D arrays of points on the line). Returns
    ``(cost, plan)``; the (n, m) plan has row sums 1/n and column sums 1/m.
    """
    x, y = _points(x, "x"), _points(y, "y")
    n, m = x.shape[0], y.shape[0]
    return emd_discrete(np.full(n, 1.0 / n), np.full(m, 1.0 / m), x, y, metric=metric)


# ----------------------------------------------------------------------------- parallel lines
def parallel_lines_divergences(theta: float) -> dict[str, float]:
    """Closed forms for the WGAN paper's Example 1.

    P_0 = law of (0, Z) and P_theta = law of (theta, Z), Z ~ U[0, 1]. For theta != 0 the
    supports are disjoint: JS = ln 2, KL = inf (both directions), TV = 1, while
    W1 = |theta| is continuous in theta. At theta = 0 every value is 0.
    Returns ``{"js", "kl", "tv", "w1"}``.
    """
    theta = float(theta)
    if not math.isfinite(theta):
        raise ValueError(f"theta must be a finite number; got {theta!r}")
    if theta == 0.0:
        return {"js": 0.0, "kl": 0.0, "tv": 0.0, "w1": 0.0}
    return {"js": LN2, "kl": math.inf, "tv": 1.0, "w1": abs(theta)}


def parallel_lines_w1_from_samples(theta: float, n: int = 256, seed: int = 0) -> float:
    """W1 between n samples of P_0 and n independent samples of P_theta (exact OT).

    Approaches |theta| as n grows (from above: the vertical mismatch of two independent
    uniform samples adds O(1/sqrt(n)) at theta = 0 and much less for |theta| >> 0).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    rng = np.random.default_rng(seed)
    line_0 = np.column_stack([np.zeros(n), rng.uniform(size=n)])  # (n, 2)
    line_theta = np.column_stack([np.full(n, float(theta)), rng.uniform(size=n)])  # (n, 2)
    return emd_point_clouds(line_0, line_theta)[0]


# ----------------------------------------------------------------------------- sample-based JS
def _sample_tensor(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be (n,) or (n, d) samples with n >= 1; got {tuple(t.shape)}")
    return t


class _Standardised(nn.Module):
    """netD applied to standardised inputs, so the returned module takes raw samples."""

    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, d) -> (B, 1) logits
        return self.net((x - self.mean) / self.std)


def js_from_discriminator(x_real: Any, x_fake: Any, hidden: int = 16, steps: int = 300,
                          lr: float = 1e-2, seed: int = 0) -> dict[str, Any]:
    """Estimate JS(P_real, P_fake) from samples by training a logistic discriminator.

    V(D) = E_real[log D(x)] + E_fake[log(1 - D(x))] with D = sigmoid(netD(x)), so
    log D = logsigmoid(netD) and log(1 - D) = logsigmoid(-netD). Goodfellow et al. show
    max_D V(D) = -2 ln 2 + 2 JS, attained at D* = p_real / (p_real + p_fake); hence
    JS = (max_D V + 2 ln 2) / 2. netD is a small MLP (d -> hidden -> hidden -> 1, LeakyReLU)
    trained full batch with Adam on -V (the BCE loss, each set averaged separately) for
    ``steps`` steps. ``v`` is V at the trained D on the same samples: a finite-sample
    estimate (an over-fitted D would push it up, an under-trained one down).

    ``x_real`` (n, d) and ``x_fake`` (m, d), or 1D arrays. The global torch RNG is left
    untouched. Returns ``{"v": float, "js": float, "discriminator": netD}``; netD (eval mode)
    maps raw samples (B, d) to logits (B, 1), i.e. D(x) = sigmoid(netD(x)).
    """
    real, fake = _sample_tensor(x_real, "x_real"), _sample_tensor(x_fake, "x_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"x_real and x_fake must have the same dimension; got {real.shape[1]} "
                         f"and {fake.shape[1]}")
    if hidden < 1 or steps < 1 or not lr > 0:
        raise ValueError(f"need hidden >= 1, steps >= 1 and lr > 0; got {hidden}, {steps}, {lr}")
    # Standardise with the pooled statistics so one learning rate suits any data scale.
    pooled = torch.cat([real, fake])  # (n + m, d)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        netD = _Standardised(
            nn.Sequential(
                nn.Linear(real.shape[1], hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            ),
            mean=pooled.mean(0), std=pooled.std(0).clamp_min(1e-8),
        )

    def value() -> torch.Tensor:
        return F.logsigmoid(netD(real)).mean() + F.logsigmoid(-netD(fake)).mean()

    opt = torch.optim.Adam(netD.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny full-batch MLP: extra intra-op threads cost, not help
    try:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            (-value()).backward()
            opt.step()
        netD.eval()
        with torch.no_grad():
            v = float(value())
    finally:
        torch.set_num_threads(threads)
    return {"v": v, "js": (v + 2 * LN2) / 2, "discriminator": netD}


# ----------------------------------------------------------------------------- slider helper
def _cell_masses(dist: Any, edges: np.ndarray) -> np.ndarray:
    """Exact mass of each grid cell, F(right) - F(left); survival function on the right
    half so far right-tail cells do not cancel to 0 (1 - 1)."""
    left = np.diff(dist.cdf(edges))
    right = -np.diff(dist.sf(edges))
    return np.where(0.5 * (edges[:-1] + edges[1:]) < dist.median(), left, right)


def shifted_pair_divergences(shift: float, width: float = 1.0, kind: str = "gaussian",
                             grid: Any = None) -> dict[str, Any]:
    """JS, KL(P || Q), TV and W1 between P (centred at 0) and Q = P shifted by ``shift``.

    ``kind="gaussian"``: P = N(0, width^2); ``kind="uniform"``: P = U[-width/2, width/2].
    Both are discretised on a uniform ``grid`` (default: 4001 points covering both with a
    margin of 8 * width) as exact cell masses F(x_i + dx/2) - F(x_i - dx/2), so the uniform
    bump's edges are handled exactly; results are then exact up to O(dx). Closed forms to
    compare with: W1 = |shift| for both; Gaussian KL = shift^2 / (2 width^2),
    TV = 2 Phi(|shift| / (2 width)) - 1, JS -> ln 2 without reaching it; uniform
    JS = ln 2 min(|shift| / width, 1), TV = min(|shift| / width, 1), KL = inf for shift != 0.
    Beyond |shift| ~ 30 width a Gaussian's far tail underflows to 0 in float64, and the grid
    KL turns inf although the true value is finite.

    Returns ``{"js", "kl", "tv", "w1"}`` (floats) and ``"x", "p", "q"`` (the grid and the two
    densities on it, for plotting).
    """
    shift, width = float(shift), float(width)
    if not math.isfinite(shift):
        raise ValueError(f"shift must be a finite number; got {shift!r}")
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"width must be a finite number > 0; got {width!r}")
    if kind == "gaussian":
        dist_p, dist_q = stats.norm(0.0, width), stats.norm(shift, width)
    elif kind == "uniform":
        dist_p = stats.uniform(-width / 2, width)
        dist_q = stats.uniform(shift - width / 2, width)
    else:
        raise ValueError(f"unknown kind {kind!r}; valid kinds are 'gaussian' and 'uniform'")
    if grid is None:
        x = np.linspace(min(0.0, shift) - 8 * width, max(0.0, shift) + 8 * width, 4001)
    else:
        x = _vector(grid, "grid")
        steps = np.diff(x)
        if x.size < 2 or steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6):
            raise ValueError("grid must be at least 2 increasing, evenly spaced points")
    dx = float(x[1] - x[0])
    edges = np.concatenate([x - dx / 2, [x[-1] + dx / 2]])  # (len(x) + 1,)
    p, q = _cell_masses(dist_p, edges), _cell_masses(dist_q, edges)  # (len(x),) each
    for name, mass in (("P", p), ("Q", q)):
        if mass.sum() < 0.99:
            raise ValueError(f"the grid holds only {mass.sum():.3f} of {name}'s mass; "
                             "widen it to cover both distributions")
    return {
        "js": js_divergence(p, q),
        "kl": kl_divergence(p, q),
        "tv": total_variation(p, q),
        "w1": wasserstein_1d(x, x, p, q),
        "x": x,
        "p": p / (p.sum() * dx),
        "q": q / (q.sum() * dx),
    }
