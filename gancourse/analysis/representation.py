"""How good is a learned encoder? A linear probe on its codes and the class agreement of its
reconstructions (notebook 16, BiGAN / ALI).

* **Linear probe.** Encode labelled images, fit a multinomial logistic regression on the codes
  of a training split and report its accuracy on the codes of held-out images. A code that
  makes the digit class *linearly* readable has organised the data by what matters, without
  ever seeing a label. Reference points: the same encoder untrained (random weights) and an
  autoencoder's encoder of the same size and budget.
* **Class agreement.** The share of images x whose reconstruction G(E(x)) the judge classifier
  puts in the same class as x itself:

      agreement = (1/N) Σ_i 1[ argmax judge(G(E(x_i))) = argmax judge(x_i) ]

  1 when every reconstruction keeps its digit, about 1/K (0.1) when G(E(x)) ignores x.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gancourse.metrics.classifier import Classifier

ArrayLike = np.ndarray | torch.Tensor


def _codes(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array of codes, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _labels(y: ArrayLike, n: int, name: str) -> np.ndarray:
    a = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be {n} integer labels (one per code), got shape {a.shape}, "
                         f"dtype {a.dtype}")
    return a


def linear_probe(train_codes: ArrayLike, train_labels: ArrayLike, test_codes: ArrayLike,
                 test_labels: ArrayLike, C: float = 1.0, max_iter: int = 2000) -> dict[str, float]:
    """Logistic regression (L2 strength 1/C, standardised features) trained on
    ``train_codes`` (N, D) with ``train_labels`` (N,), scored on the held-out codes.

    Returns ``accuracy`` (held-out), ``train_accuracy`` and ``chance`` (the share of the most
    frequent held-out class: what a probe that ignores the codes gets).
    """
    xtr, xte = _codes(train_codes, "train_codes"), _codes(test_codes, "test_codes")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train and test codes differ in dimension: {xtr.shape[1]} vs {xte.shape[1]}")
    ytr, yte = _labels(train_labels, len(xtr), "train_labels"), _labels(test_labels, len(xte), "test_labels")
    if len(np.unique(ytr)) < 2:
        raise ValueError("the training labels hold a single class; a probe needs at least two")
    if not C > 0:
        raise ValueError(f"C (inverse regularisation strength) must be positive, got {C}")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    probe.fit(xtr, ytr)
    return {"accuracy": float(probe.score(xte, yte)), "train_accuracy": float(probe.score(xtr, ytr)),
            "chance": float(np.bincount(yte).max() / len(yte))}


def class_agreement(classifier: Classifier, images: torch.Tensor, reconstructions: torch.Tensor,
                    batch_size: int = 256) -> float:
    """Share of pairs whose judge classes agree: argmax judge(reconstructions[i]) = argmax
    judge(images[i]). Both (N, C, H, W) in [-1, 1]; reconstructions are clamped to [-1, 1]."""
    if images.shape != reconstructions.shape or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images and reconstructions must be non-empty batches of the same shape "
                         f"(N, C, H, W), got {tuple(images.shape)} and {tuple(reconstructions.shape)}")
    _, p_img = classifier.predict(images.clamp(-1, 1), batch_size)
    _, p_rec = classifier.predict(reconstructions.clamp(-1, 1), batch_size)
    return float((p_img.argmax(1) == p_rec.argmax(1)).float().mean())
