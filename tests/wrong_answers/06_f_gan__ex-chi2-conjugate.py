# Drops the linear term when substituting u* back: f*(t) = t^2 / 4 instead of t^2 / 4 + t
# (the tangent point u* = 1 + t / 2 is right).
import numpy as np


def chi2_conjugate(t):
    t = np.asarray(t, dtype=float)
    u_star = 1 + t / 2
    f_star = t ** 2 / 4
    if t.ndim == 0:
        return float(f_star), float(u_star)
    return f_star, u_star
