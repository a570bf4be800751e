"""The Earth Mover's (Wasserstein-1) distance: 1D closed form, exact LP with the transport plan,
brute force over integer plans, and point clouds."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import ot
from scipy.spatial.distance import cdist

from gancourse.divergences.fdiv import _masses, _vector


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
