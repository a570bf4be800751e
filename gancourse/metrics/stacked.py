"""Mode coverage of stacked-digit images (1,000 modes), judged by the digits classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats
import torch
from torch import nn

NUM_STACKED_MODES = 1000


def stacked_modes(images: torch.Tensor, classifier: nn.Module, batch_size: int = 512) -> np.ndarray:
    """The mode 100 * c_R + 10 * c_G + c_B of each image (B, 3, H, W) -> (B,) in 0..999,
    c the arg-max class of ``classifier.predict`` on each channel."""
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"need stacked images (B, 3, H, W), got {tuple(images.shape)}")
    classes = []
    for c in range(3):
        _, probs = classifier.predict(images[:, c:c + 1], batch_size)        # (B, 10)
        classes.append(torch.as_tensor(probs).argmax(1))
    return (classes[0] * 100 + classes[1] * 10 + classes[2]).numpy()


def stacked_mode_metrics(images: torch.Tensor, classifier: nn.Module,
                         batch_size: int = 512) -> dict[str, Any]:
    """Modes of stacked-digit images judged channel by channel (:func:`stacked_modes`).

    Returns ``mode_counts`` (1000,), ``modes_covered`` (modes with at least one sample,
    0..1000), ``reverse_kl`` = KL(q || uniform) = sum_k q_k ln(1000 q_k) in nats (0 for a
    uniform spread, ln 1000 = 6.91 for one mode) and ``num_modes`` = 1000.
    """
    counts = np.bincount(stacked_modes(images, classifier, batch_size), minlength=NUM_STACKED_MODES)
    uniform = np.full(NUM_STACKED_MODES, 1.0 / NUM_STACKED_MODES)
    return {"mode_counts": counts.tolist(), "modes_covered": int((counts > 0).sum()),
            "reverse_kl": float(scipy.stats.entropy(counts / counts.sum(), uniform)),  # as mode_metrics
            "num_modes": NUM_STACKED_MODES}
