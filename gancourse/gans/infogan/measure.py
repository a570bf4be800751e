"""Measuring what InfoGAN's codes mean: unsupervised class accuracy and continuous-code effects.

**Code accuracy.** The categorical code is learned without labels, so code k need not mean
digit k. Score it like a clustering: count the (code, label) pairs in a confusion matrix
C[k, y], choose the **one-to-one** assignment π of codes to labels that maximises the matches
(the Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``) and report

    accuracy = Σ_k C[k, π(k)] / N.

Giving each code its majority label instead (*purity*) lets two codes claim the same digit,
so a model that splits one digit over two codes and merges two others still scores high;
purity >= accuracy always, with equality when the majority labels are all different.

**Continuous codes.** Chen et al. show that varying c_2 or c_3 with z and c_1 fixed rotates
the digit or changes its width. :func:`image_moments` measures such properties from the
image's second moments (ink as mass, pixel coordinates x to the right, y downwards):

* ``slant`` = −μ_xy / μ_yy: how far x moves per unit of height going up the digit, positive
  for a top leaning right (the shear that deskews it, as in classic MNIST deskewing);
* ``width`` = √μ_xx, the horizontal spread in pixels; ``height`` = √μ_yy;
* ``ink`` = the mean ink per pixel (thicker strokes, more ink).

:func:`traversal_correlation` correlates a code with a property *within* traversals (each
row: one (z, c_cat) with the code swept over a grid), which removes the differences between
digits that would otherwise dominate.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

ArrayLike = np.ndarray | torch.Tensor
PROPERTIES = ("slant", "width", "height", "ink")


def _labels(x: ArrayLike, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer ids, got shape {a.shape}")
    if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0):
        raise ValueError(f"{name} must hold non-negative integers, got dtype {a.dtype} and "
                         f"minimum {a.min() if a.size else None}")
    return a.astype(np.int64)


def confusion_matrix(codes: ArrayLike, labels: ArrayLike, n_codes: int | None = None,
                     n_classes: int | None = None) -> np.ndarray:
    """C[k, y] = number of samples with code k and label y, shape (n_codes, n_classes)."""
    c, y = _labels(codes, "codes"), _labels(labels, "labels")
    if c.shape != y.shape:
        raise ValueError(f"codes and labels must have the same length, got {len(c)} and {len(y)}")
    if not len(c):
        raise ValueError("need at least one (code, label) pair")
    n_codes = int(c.max()) + 1 if n_codes is None else int(n_codes)
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if c.max() >= n_codes or y.max() >= n_classes:
        raise ValueError(f"codes must lie in [0, {n_codes}) and labels in [0, {n_classes}); got "
                         f"maxima {c.max()} and {y.max()}")
    out = np.zeros((n_codes, n_classes), dtype=np.int64)
    np.add.at(out, (c, y), 1)
    return out


def code_assignment(confusion: ArrayLike) -> tuple[float, np.ndarray]:
    """(accuracy, π) for the one-to-one assignment of codes (rows) to classes (columns) with
    the most matches. π[k] is the class of code k (-1 for codes left over when there are more
    codes than classes). Works on counts or shares."""
    m = np.asarray(confusion, dtype=np.float64)
    if m.ndim != 2 or m.size == 0 or (m < 0).any() or m.sum() <= 0:
        raise ValueError(f"confusion must be a non-empty 2-D array of counts >= 0 with a positive "
                         f"sum, got shape {m.shape}")
    rows, cols = linear_sum_assignment(m, maximize=True)
    mapping = np.full(m.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return float(m[rows, cols].sum() / m.sum()), mapping


def code_accuracy(codes: ArrayLike, labels: ArrayLike, n_codes: int | None = None,
                  n_classes: int | None = None) -> float:
    """Unsupervised accuracy of ``codes`` (N,) against ``labels`` (N,) under the best
    one-to-one code-to-label assignment (Hungarian algorithm)."""
    return code_assignment(confusion_matrix(codes, labels, n_codes, n_classes))[0]


def code_purity(codes: ArrayLike, labels: ArrayLike, n_codes: int | None = None,
                n_classes: int | None = None) -> float:
    """Purity: each code takes its majority label, two codes may share one (>= accuracy)."""
    m = confusion_matrix(codes, labels, n_codes, n_classes)
    return float(m.max(1).sum() / m.sum())


# ----------------------------------------------------------------------------- image moments
def image_moments(images: ArrayLike) -> dict[str, np.ndarray]:
    """Per-image properties from second moments of the ink, for images (N, 1, H, W) or
    (N, H, W) in [-1, 1] (ink = (x + 1) / 2). Returns {"slant", "width", "height", "ink"}, each
    (N,); see the module docstring. A blank image gets NaN shape properties."""
    x = torch.as_tensor(images).detach().float().cpu()
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"image_moments needs one channel, got shape {tuple(x.shape)}")
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {tuple(x.shape)}")
    ink = ((x + 1) / 2).clamp(0, 1).double()                                # (N, H, W)
    h, w = ink.shape[1:]
    ys = torch.arange(h, dtype=torch.float64).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, w)
    mass = ink.sum((1, 2))                                                  # (N,)
    safe = mass.clamp_min(1e-12)
    cx, cy = (ink * xs).sum((1, 2)) / safe, (ink * ys).sum((1, 2)) / safe
    dx, dy = xs - cx.view(-1, 1, 1), ys - cy.view(-1, 1, 1)                 # (N, H, W) each
    mxx = (ink * dx * dx).sum((1, 2)) / safe
    myy = (ink * dy * dy).sum((1, 2)) / safe
    mxy = (ink * dx * dy).sum((1, 2)) / safe
    blank = mass <= 1e-6
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    # y grows downwards: a top leaning right has x falling with y, so slant = -μ_xy / μ_yy
    slant = torch.where(blank | (myy <= 1e-12), nan, -mxy / myy.clamp_min(1e-12))
    width = torch.where(blank, nan, mxx.sqrt())
    height = torch.where(blank, nan, myy.sqrt())
    return {"slant": slant.numpy(), "width": width.numpy(), "height": height.numpy(),
            "ink": (mass / (h * w)).numpy()}


def traversal_correlation(values: ArrayLike, grid: ArrayLike) -> float:
    """Pearson correlation of a property with a code *within* traversals.

    ``values`` (R, T): the property of R traversals, each at the T code values ``grid`` (T,).
    Each row's mean is subtracted (the pooled within-row correlation), so differences between
    the R starting digits do not count. Rows with a NaN are dropped; NaN if none is left or
    the property never changes."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64).ravel()
    if v.ndim != 2 or v.shape[1] != g.size or g.size < 2:
        raise ValueError(f"values must be (R, T) with T = len(grid) >= 2; got {v.shape} and {g.size}")
    v = v[np.isfinite(v).all(1)]
    if not len(v):
        return float("nan")
    dv = v - v.mean(1, keepdims=True)
    dg = np.broadcast_to(g - g.mean(), dv.shape)
    denom = np.sqrt((dv ** 2).sum() * (dg ** 2).sum())
    return float((dv * dg).sum() / denom) if denom > 0 else float("nan")
