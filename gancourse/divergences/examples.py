"""Closed-form toy examples: the parallel lines of the WGAN paper and two shifted bumps (the
interactive explorer of notebook 01)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from gancourse.divergences.fdiv import LN2, _vector, js_divergence, kl_divergence, total_variation
from gancourse.divergences.transport import emd_point_clouds, wasserstein_1d


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
