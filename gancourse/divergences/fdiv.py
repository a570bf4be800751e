"""f-divergences (KL, reverse KL, JS, TV, Pearson chi2, squared Hellinger) between histograms
or densities on a uniform grid, in nats, with the zero-mass conventions spelled out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import rel_entr

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
