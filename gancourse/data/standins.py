"""Offline stand-ins: datasets that need no network.

* ``digits`` — scikit-learn's bundled 1,797 handwritten digits (8×8, 16 grey levels,
  from the UCI optical recognition set). Each digit is upsampled into the central box
  of the frame (20 px of 28, like MNIST's 20×20 box in a 28×28 frame), so models and
  classifiers built for MNIST run on it unchanged. A fixed stratified 80/20 split gives
  1,437 training and 360 held-out images.
* ``shapes`` — procedurally drawn coloured shapes on coloured backgrounds, 3 channels,
  six classes: the stand-in for colour datasets (CIFAR10) when they can't be downloaded.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gancourse.data.images import ImageDataset, check_image_size, resize, stratified_split, to_unit_range

DIGIT_CLASSES = [str(i) for i in range(10)]
SHAPE_CLASSES = ["disc", "square", "triangle", "ring", "cross", "diamond"]
SHAPES_PER_SPLIT = {"train": 6000, "test": 1200}


def load_digits(split: str = "train", image_size: int = 28) -> ImageDataset:
    """The scikit-learn digits, resized to ``image_size`` with a MNIST-like margin."""
    from sklearn.datasets import load_digits as sk_load_digits

    check_image_size(image_size)
    bunch = sk_load_digits()
    idx = stratified_split(bunch.target, split, test_share=0.2, seed=20240601)
    raw = torch.from_numpy(bunch.images[idx]).float().unsqueeze(1)   # (N, 1, 8, 8), 0..16
    images = to_unit_range(raw, 16.0)
    inner = round(image_size * 20 / 28)                               # digit box, as in MNIST
    pad_lo = (image_size - inner) // 2
    pad_hi = image_size - inner - pad_lo
    images = resize(images, inner)                                    # (N, 1, inner, inner)
    images = torch.nn.functional.pad(images, (pad_lo, pad_hi, pad_lo, pad_hi), value=-1.0)
    labels = torch.from_numpy(bunch.target[idx]).long()
    return ImageDataset(images, labels, name="digits", class_names=DIGIT_CLASSES, split=split)


def _shape_mask(kind: int, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float,
                r: float, angle: float) -> np.ndarray:
    """Boolean mask of one shape on a [0, 1]² pixel grid."""
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy                           # rotated coordinates
    name = SHAPE_CLASSES[kind]
    if name == "disc":
        return dx**2 + dy**2 <= r**2
    if name == "square":
        return (np.abs(u) <= r * 0.8) & (np.abs(v) <= r * 0.8)
    if name == "triangle":
        return (v <= r * 0.6) & (v >= -r * 0.9 + 1.8 * np.abs(u))     # apex up, base below
    if name == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if name == "cross":
        w = r * 0.3
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    return np.abs(u) + np.abs(v) <= r                                   # diamond


def load_shapes(split: str = "train", image_size: int = 32, n: int | None = None) -> ImageDataset:
    """Coloured shapes, ``n`` per split (6,000 train / 1,200 test by default)."""
    check_image_size(image_size)
    n = n or SHAPES_PER_SPLIT[split]
    rng = np.random.default_rng(7 if split == "train" else 8)
    grid = (np.arange(image_size) + 0.5) / image_size
    xx, yy = np.meshgrid(grid, grid)
    images = np.empty((n, 3, image_size, image_size), dtype=np.float32)
    labels = rng.integers(0, len(SHAPE_CLASSES), size=n)
    for i, kind in enumerate(labels):
        bg = rng.uniform(0.0, 0.45, size=3)
        fg = rng.uniform(0.55, 1.0, size=3)
        r = rng.uniform(0.2, 0.32)
        cx, cy = rng.uniform(r + 0.05, 0.95 - r, size=2)
        mask = _shape_mask(int(kind), xx, yy, cx, cy, r, rng.uniform(0, math.pi / 2))
        images[i] = np.where(mask[None], fg[:, None, None], bg[:, None, None])
    tensor = torch.from_numpy(images).mul_(2.0).sub_(1.0)               # (N, 3, H, W) in [-1, 1]
    return ImageDataset(tensor, torch.from_numpy(labels).long(), name="shapes",
                        class_names=SHAPE_CLASSES, split=split)
