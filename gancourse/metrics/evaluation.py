"""Sample-based evaluation of generators (notebook 13): likelihood, scores, distances, coverage.

``samples`` / ``feats`` arguments are (N, D) arrays (flattened images or feature vectors),
``probs`` (N, K) class probabilities; NumPy arrays or torch tensors. Every function is
deterministic given its ``seed``.

- :func:`parzen_log_likelihood`, :func:`select_bandwidth`: kernel-density likelihood;
- :func:`inception_score`: exp E_x KL(p(y|x) || p(y)) over splits;
- :func:`mmd2_unbiased`, :func:`kernel_distance`: KID (cubic polynomial kernel);
- :func:`fd_versus_n`: Fréchet distance against sample size and its extrapolation FD_inf;
- :func:`precision_recall`: k-NN manifold precision and recall (Kynkäänniemi et al. 2019);
- :func:`nearest_neighbours`, :func:`memorisation`: nearest-training-neighbour check;
- :func:`load_inception`, :func:`inception_features`: torchvision Inception-v3 features.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gancourse.metrics.image import ArrayLike, _as_array, _as_probs, frechet_distance


def _as_tensor(x: ArrayLike, name: str) -> torch.Tensor:
    return torch.from_numpy(_as_array(x, name, 2))  # (N, D) float64


def _same_dim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, na: str, nb: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{na} and {nb} must have the same feature dimension, "
                         f"got {a.shape[1]} and {b.shape[1]}")


# --------------------------------------------------------------------------- Parzen window
def parzen_log_likelihood(samples: ArrayLike, test: ArrayLike, sigma: float,
                          batch_size: int = 256) -> float:
    """Mean log-density of ``test`` under a Gaussian kernel density on ``samples``, in nats.

    p_sigma(x) = (1/n) sum_i N(x; s_i, sigma^2 I), so per test point
    log p = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log n - (d/2) log(2 pi sigma^2).
    Returns mean_x log p(x) (divide by d for nats per dimension).
    """
    s, x = _as_tensor(samples, "samples"), _as_tensor(test, "test")
    _same_dim(s, x, "samples", "test")
    if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    n, d = s.shape
    const = -math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma ** 2)
    total = 0.0
    for start in range(0, len(x), batch_size):
        sq = torch.cdist(x[start:start + batch_size], s).pow(2)  # (b, n)
        total += float((torch.logsumexp(-sq / (2 * sigma ** 2), dim=1) + const).sum())
    return total / len(x)


def select_bandwidth(samples: ArrayLike, valid: ArrayLike,
                     sigmas: Sequence[float]) -> tuple[float, np.ndarray]:
    """The sigma in ``sigmas`` that maximises :func:`parzen_log_likelihood` on ``valid``
    (a validation split, disjoint from the test set); returns (best sigma, (S,) log-likelihoods)."""
    if len(sigmas) == 0:
        raise ValueError("sigmas must hold at least one candidate bandwidth")
    lls = np.array([parzen_log_likelihood(samples, valid, float(s)) for s in sigmas])
    return float(sigmas[int(np.argmax(lls))]), lls


# --------------------------------------------------------------------------- Inception score
def inception_score(probs: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """Inception-style score exp(E_x KL(p(y|x) || p(y))) from classifier probabilities.

    The N rows are cut into ``splits`` equal parts; in each, p(y) is the mean of the rows and
    IS = exp(mean_x sum_y p(y|x) (ln p(y|x) - ln p(y))). Returns (mean, std) over the splits.
    Range [1, K]: 1 when every row is the same, K when rows are confident (one-hot) and
    the classes equally frequent.
    """
    p = _as_probs(probs)  # (N, K)
    if not (isinstance(splits, int) and 1 <= splits <= len(p)):
        raise ValueError(f"splits must be an integer in [1, {len(p)}] (number of rows), got {splits!r}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)  # (1, K)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(1)  # (n,)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- KID
def _poly_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1.0) ** 3  # (n, m)


def mmd2_unbiased(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (KID):

    MMD^2_u = sum_{i != j} k(a_i, a_j) / (m(m-1)) + sum_{i != j} k(b_i, b_j) / (n(n-1))
              - 2 sum_{i, j} k(a_i, b_j) / (m n).
    Its expectation is 0 when both sets come from one distribution (it can be < 0).
    """
    a, b = _as_tensor(feats_a, "feats_a"), _as_tensor(feats_b, "feats_b")
    _same_dim(a, b, "feats_a", "feats_b")
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise ValueError(f"need at least 2 vectors per set, got {m} and {n}")
    kaa, kbb, kab = _poly_kernel(a, a), _poly_kernel(b, b), _poly_kernel(a, b)
    return float((kaa.sum() - kaa.diagonal().sum()) / (m * (m - 1))
                 + (kbb.sum() - kbb.diagonal().sum()) / (n * (n - 1)) - 2 * kab.mean())


def kernel_distance(feats_a: ArrayLike, feats_b: ArrayLike, subsets: int = 10,
                    subset_size: int = 100, seed: int = 0) -> tuple[float, float]:
    """KID: :func:`mmd2_unbiased` on ``subsets`` random subsets of ``subset_size`` rows drawn
    (without replacement) from each set; returns (mean, std) over the subsets."""
    a, b = _as_array(feats_a, "feats_a", 2), _as_array(feats_b, "feats_b", 2)
    if not 2 <= subset_size <= min(len(a), len(b)):
        raise ValueError(f"subset_size must lie in [2, {min(len(a), len(b))}] (the smaller set), "
                         f"got {subset_size}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    rng = np.random.default_rng(seed)
    vals = [mmd2_unbiased(a[rng.choice(len(a), subset_size, replace=False)],
                          b[rng.choice(len(b), subset_size, replace=False)])
            for _ in range(subsets)]
    return float(np.mean(vals)), float(np.std(vals))


# --------------------------------------------------------------------------- FD against N
def fd_versus_n(feats_a: ArrayLike, feats_b: ArrayLike, ns: Sequence[int], repeats: int = 1,
                seed: int = 0) -> dict[str, Any]:
    """Fréchet distance on N random rows of each set, for each N in ``ns``, and the linear fit
    FD_N = FD_inf + slope / N (Chong & Forsyth 2020): FD is biased upwards by O(1/N), the
    intercept FD_inf estimates its value at infinite N.

    Returns ``ns`` (array), ``fd`` (mean over ``repeats`` at each N), ``slope``, ``fd_inf``.
    """
    a, b = _as_array(feats_a, "feats_a", 2), _as_array(feats_b, "feats_b", 2)
    _same_dim(a, b, "feats_a", "feats_b")
    ns_arr = np.asarray(ns, dtype=int)
    if len(set(ns_arr.tolist())) < 2:
        raise ValueError(f"ns needs at least two different sample sizes for the fit, got {list(ns)}")
    if ns_arr.min() < 2 or ns_arr.max() > min(len(a), len(b)):
        raise ValueError(f"every N must lie in [2, {min(len(a), len(b))}] (the smaller set), got {list(ns)}")
    rng = np.random.default_rng(seed)
    fd = np.array([np.mean([frechet_distance(a[rng.choice(len(a), n, replace=False)],
                                             b[rng.choice(len(b), n, replace=False)])
                            for _ in range(repeats)]) for n in ns_arr])
    slope, intercept = np.polyfit(1.0 / ns_arr, fd, 1)
    return {"ns": ns_arr, "fd": fd, "slope": float(slope), "fd_inf": float(intercept)}


# --------------------------------------------------------------------------- precision / recall
def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    d = torch.cdist(x, x)  # (n, n), zero diagonal
    return d.kthvalue(k + 1, dim=1).values  # (n,) k-th neighbour other than itself


def _coverage(manifold: torch.Tensor, radius: torch.Tensor, queries: torch.Tensor) -> float:
    d = torch.cdist(queries, manifold)  # (q, n)
    return float((d <= radius[None, :]).any(1).double().mean())


def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    The manifold of a set is the union of balls around its points, each with radius the
    distance to that point's k-th nearest neighbour in the set. precision = share of fake
    points inside the real manifold (quality), recall = share of real points inside the fake
    manifold (coverage). Both in [0, 1].
    """
    r, f = _as_tensor(real, "real"), _as_tensor(fake, "fake")
    _same_dim(r, f, "real", "fake")
    if not (isinstance(k, int) and 1 <= k < min(len(r), len(f))):
        raise ValueError(f"k must be an integer in [1, {min(len(r), len(f)) - 1}], got {k!r}")
    precision = _coverage(r, _kth_radius(r, k), f)
    recall = _coverage(f, _kth_radius(f, k), r)
    return precision, recall


# --------------------------------------------------------------------------- memorisation
def nearest_neighbours(queries: ArrayLike, reference: ArrayLike,
                       batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query to its nearest reference row and that row's index:
    ((Q,) distances, (Q,) indices)."""
    q, r = _as_tensor(queries, "queries"), _as_tensor(reference, "reference")
    _same_dim(q, r, "queries", "reference")
    dist, idx = [], []
    for start in range(0, len(q), batch_size):
        d, i = torch.cdist(q[start:start + batch_size], r).min(1)
        dist.append(d)
        idx.append(i)
    return torch.cat(dist).numpy(), torch.cat(idx).numpy()


def memorisation(fake: ArrayLike, train: ArrayLike, held_out: ArrayLike) -> dict[str, float]:
    """Nearest-training-neighbour check: are generated samples closer to the training set
    than fresh real samples are?

    d_fake / d_real are the distances of fake / held-out rows to their nearest training row.
    Returns ``fake_nn`` and ``real_nn`` (medians), ``ratio`` = fake_nn / real_nn (about 1 for
    an honest generator; near 0 for one that copies training images; > 1 for a poor one) and
    ``copy_share``, the share of fakes closer to the training set than the 1st percentile
    of d_real.
    """
    d_fake, _ = nearest_neighbours(fake, train)
    d_real, _ = nearest_neighbours(held_out, train)
    fake_nn, real_nn = float(np.median(d_fake)), float(np.median(d_real))
    if real_nn == 0:
        raise ValueError("held_out contains copies of training rows; use a disjoint split")
    return {"fake_nn": fake_nn, "real_nn": real_nn, "ratio": fake_nn / real_nn,
            "copy_share": float(np.mean(d_fake < np.percentile(d_real, 1)))}


# --------------------------------------------------------------------------- Inception-v3
def load_inception(offline: bool) -> torch.nn.Module:
    """torchvision's ImageNet Inception-v3 in eval mode (weights IMAGENET1K_V1, ~100 MB).

    Raises RuntimeError saying why when ``offline`` is True and the weights are not in the
    torch hub cache, or when they cannot be downloaded.
    """
    from torchvision.models import Inception_V3_Weights, inception_v3

    weights = Inception_V3_Weights.IMAGENET1K_V1
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", weights.url.rsplit("/", 1)[-1])
    if offline and not os.path.exists(cached):
        raise RuntimeError(f"Inception-v3 weights are not cached at {cached} and offline mode "
                           "forbids downloading them; run once online (offline=False)")
    try:
        model = inception_v3(weights=weights, progress=False)
    except Exception as err:  # network errors come in many types
        raise RuntimeError(f"could not load Inception-v3 weights ({type(err).__name__}: {err}); "
                           "they need a network connection the first time") from err
    return model.eval()


@torch.no_grad()
def inception_features(model: torch.nn.Module, images: torch.Tensor,
                       batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(pool features (N, 2048), ImageNet probabilities (N, 1000)) of (N, C, H, W) images in
    [-1, 1]: grey images are repeated to 3 channels, resized to 299 px (bilinear) and
    normalised with ImageNet statistics."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    feats: list[torch.Tensor] = []
    hook = model.avgpool.register_forward_hook(lambda m, i, o: feats.append(o.flatten(1)))
    probs = []
    try:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].float().expand(-1, 3, -1, -1)  # (b, 3, H, W)
            x = F.interpolate((x + 1) / 2, size=(299, 299), mode="bilinear", align_corners=False)
            probs.append(F.softmax(model((x - mean) / std), dim=1))
    finally:
        hook.remove()
    return torch.cat(feats), torch.cat(probs)
