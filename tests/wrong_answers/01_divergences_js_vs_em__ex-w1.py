# Returns the sorting permutation of y as the plan, forgetting to put it back in x's order:
# the distance is right, but match[i] is the k-th smallest y for the i-th entry, not for x[i]'s rank.
import numpy as np


def w1_sorted_samples(x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length; got {x.size} and {y.size}")
    return float(np.mean(np.abs(np.sort(x) - np.sort(y)))), np.argsort(y)
