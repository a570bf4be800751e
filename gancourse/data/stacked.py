"""Stacked digits (VEEGAN, Srivastava et al., 2017; PacGAN): three digits as RGB channels.

A stacked image has 10 × 10 × 10 = 1,000 modes (one per digit triple), so a generator's
mode coverage can be counted with a digits classifier, channel by channel
(:func:`gancourse.metrics.stacked_mode_metrics`).
"""

from __future__ import annotations

import torch


def stack_digits(images: torch.Tensor, n: int, seed: int = 0,
                 labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` stacked images from grey digits: three random digits as the channels of one image.

    ``images`` (N, 1, H, W) -> (n, 3, H, W); with ``labels`` (N,) also the mode of each
    stacked image, 100 * label_R + 10 * label_G + label_B in 0..999.
    """
    if images.ndim != 4 or images.shape[1] != 1 or len(images) == 0:
        raise ValueError(f"need grey images (N, 1, H, W), got {tuple(images.shape)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if labels is not None and labels.shape != (len(images),):
        raise ValueError(f"need one label per image, got {tuple(labels.shape)} for {len(images)} images")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(images), (n, 3), generator=g)                # (n, 3)
    stacked = images[idx].squeeze(2)                                        # (n, 3, H, W)
    if labels is None:
        return stacked, None
    digits = labels[idx]                                                    # (n, 3)
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
