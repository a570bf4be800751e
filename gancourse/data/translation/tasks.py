"""Offline translation tasks built from real images that ship with the course or its dependencies.

* :class:`PairedImages` — aligned (input, target) pairs, with labels when the targets have classes;
* :func:`edges2digits` — Canny edge maps of real MNIST digits paired with the digits;
* :func:`segments2photos` — SLIC superpixel maps (regions in their mean colour, like the label
  maps of facades) of patches of the scikit-image photographs paired with the patches, and
  :func:`edges2photos` — their edge maps; training and held-out photos as
  :mod:`gancourse.data.photos` splits them;
* :func:`paired_jitter` — pix2pix's random crop and mirror, drawn once per pair;
* :func:`digit_domains` — two unpaired handwriting domains (real MNIST, scikit-learn digits) and
  :func:`rescan_8x8`, which renders digits the way the scikit-learn digits were scanned.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gancourse.data import photos
from gancourse.data.images import ImageDataset
from gancourse.data.registry import DatasetFallbackWarning, load
from gancourse.training.batches import Paired

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- paired sets
@dataclass
class PairedImages:
    """Aligned pairs: ``input[i]`` translates to ``target[i]`` (both (N, C, H, W) in [-1, 1]).

    ``labels`` (N,) when the targets have classes (digits), ``fallback`` says why an offline
    task replaced the requested set (None when it did not).
    """

    input: Tensor
    target: Tensor
    name: str
    split: str
    labels: Tensor | None = None
    description: str = ""
    requested: str | None = None
    fallback: str | None = None

    def __post_init__(self):
        if self.input.ndim != 4 or self.target.ndim != 4:
            raise ValueError(f"input and target must be (N, C, H, W), got {tuple(self.input.shape)} "
                             f"and {tuple(self.target.shape)}")
        if len(self.input) != len(self.target) or self.input.shape[-2:] != self.target.shape[-2:]:
            raise ValueError(f"pairs must match in number and size, got {tuple(self.input.shape)} "
                             f"and {tuple(self.target.shape)}")
        if self.labels is not None and len(self.labels) != len(self.input):
            raise ValueError(f"{len(self.labels)} labels for {len(self.input)} pairs")
        self.requested = self.requested or self.name

    def __len__(self) -> int:
        return len(self.input)

    def paired(self) -> Paired:
        """The training source for :class:`~gancourse.training.GANTrainer`: batches with
        ``batch["input"]``, ``batch["target"]`` (and ``batch["y"]`` when labelled)."""
        extra = {} if self.labels is None else {"y": self.labels}
        return Paired(input=self.input, target=self.target, **extra)

    def take(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor | None]:
        """``n`` pairs (input, target, labels) chosen at random but reproducibly."""
        if n > len(self):
            raise ValueError(f"asked for {n} pairs but {self.name}/{self.split} has {len(self)}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return self.input[idx], self.target[idx], None if self.labels is None else self.labels[idx]

    def __repr__(self) -> str:
        extra = f", fell back from {self.requested!r}" if self.fallback else ""
        return (f"PairedImages({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"input={tuple(self.input.shape[1:])}, target={tuple(self.target.shape[1:])}{extra})")


def luminance(images: Tensor) -> Tensor:
    """(N, 1, H, W) luminance of (N, 1 or 3, H, W) images (ITU-R 601 weights), range kept."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got {tuple(images.shape)}")
    if images.shape[1] == 1:
        return images
    w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return (images * w.view(1, 3, 1, 1)).sum(1, keepdim=True)


def edges(images: Tensor, sigma: float = 1.0) -> Tensor:
    """Canny edge maps (``skimage.feature.canny`` on the luminance): (N, 1, H, W) with +1 on an
    edge and -1 elsewhere (white lines on black, like the digits). ``sigma`` is the Gaussian
    smoothing in pixels before the gradient: larger keeps only coarser edges."""
    from skimage.feature import canny

    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    grey = ((luminance(images.detach().float().cpu()) + 1) / 2).clamp(0, 1).numpy()  # (N, 1, H, W) in [0, 1]
    out = np.stack([canny(g[0], sigma=sigma) for g in grey])[:, None]                 # (N, 1, H, W) bool
    return torch.from_numpy(out).float().mul(2).sub(1)


@functools.lru_cache(maxsize=8)
def _digit_edges(name: str, split: str, root: str | None, offline: bool | None, sigma: float,
                 n: int | None):
    ds = load(name, split=split, root=root, offline=offline, image_size=28)
    images, labels = (ds.images, ds.labels) if n is None else (ds.images[:n], ds.labels[:n])
    return ds.name, images, labels, edges(images, sigma)


def edges2digits(split: str = "train", root: str | Path | None = None, offline: bool | None = None,
                 sigma: float = 1.0, dataset: str = "mnist", n: int | None = None) -> PairedImages:
    """Edges → digits on real digits: input the Canny edges of each digit, target the digit,
    labels kept (the first ``n`` digits of the split, all when None). ``dataset`` ``"mnist"``
    gives the full MNIST when on disk or downloadable and the shipped real digits
    (``mnist-10k``) otherwise."""
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1 or None, got {n}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetFallbackWarning)   # mnist -> mnist-10k is expected offline
        name, images, labels, e = _digit_edges(dataset, split, None if root is None else str(root),
                                               offline, float(sigma), n)
    return PairedImages(e, images, name=f"edges2{name}", split=split, labels=labels,
                        description=f"Canny edges (sigma={sigma}) of {name} digits -> the digits")


def edges2photos(split: str = "train", n: int = 2000, size: int = 32, scale: float = 0.25,
                 sigma: float = 1.5, seed: int = 0, channels: int = 3) -> PairedImages:
    """Edges → photo on ``size`` px patches of the scikit-image photographs: the training
    photos for ``split="train"``, the held-out photos (never trained on) for ``"test"``
    (:mod:`gancourse.data.photos`). Each photo is first shrunk by ``scale`` so that a patch
    holds a piece of a scene rather than a texture close-up.

    ``channels=3``: colour targets from the colour photos; ``channels=1``: grey targets from
    every photo, colour ones as luminance (more photos, and no colour to guess from edges).
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits are train, test")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (colour), got {channels!r}")
    if channels == 3:
        names = photos.COLOUR_TRAIN if split == "train" else photos.COLOUR_HELD_OUT
    else:
        names = (photos.COLOUR_TRAIN + photos.GREY_TRAIN if split == "train"
                 else photos.COLOUR_HELD_OUT + photos.GREY_HELD_OUT)
    target = photos.patches(names, n, size, channels=channels,          # (n, C, size, size)
                            seed=seed + (0 if split == "train" else 10_000), scale=scale)
    return PairedImages(edges(target, sigma), target, name="edges2photos", split=split,
                        description=f"Canny edges (sigma={sigma}) of {size} px patches of "
                                    f"{', '.join(names)} (scale {scale}) -> the patches")


def segments(images: Tensor, n_segments: int = 16, compactness: float = 10.0) -> Tensor:
    """Superpixel maps: each image cut into about ``n_segments`` SLIC superpixels
    (``skimage.segmentation.slic``) and every superpixel painted in its mean colour,
    (N, C, H, W) in [-1, 1]. Like the label maps of facades or Cityscapes, they say which region
    holds which colour and drop everything inside a region: texture, shading, fine detail."""
    from skimage.color import label2rgb
    from skimage.segmentation import slic

    if n_segments < 1 or compactness <= 0:
        raise ValueError(f"need n_segments >= 1 and compactness > 0, got {n_segments}, {compactness}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got {tuple(images.shape)}")
    unit = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    out = []
    for img in unit.astype(np.float64):
        grey = img.shape[-1] == 1
        lab = slic(img[..., 0] if grey else img, n_segments=n_segments, compactness=compactness,
                   start_label=0, channel_axis=None if grey else -1)
        avg = label2rgb(lab, img, kind="avg", bg_label=-1)                  # (H, W, 3) even for grey
        out.append(avg[..., :1] if grey else avg)
    return torch.from_numpy(np.stack(out)).float().permute(0, 3, 1, 2).mul(2).sub(1).contiguous()


def segments2photos(split: str = "train", n: int = 2000, size: int = 32, scale: float = 0.25,
                    n_segments: int = 16, seed: int = 0) -> PairedImages:
    """Superpixel map → photo on ``size`` px colour patches of the scikit-image photographs (the
    offline stand-in of pix2pix's label map → photo tasks): input the :func:`segments` map of a
    patch, target the patch; training photos for ``"train"``, held-out photos for ``"test"``."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits are train, test")
    names = photos.COLOUR_TRAIN if split == "train" else photos.COLOUR_HELD_OUT
    target = photos.patches(names, n, size, channels=3, seed=seed + (0 if split == "train" else 10_000),
                            scale=scale)                                    # (n, 3, size, size)
    return PairedImages(segments(target, n_segments), target, name="segments2photos", split=split,
                        description=f"SLIC superpixel maps (about {n_segments} segments) of {size} px "
                                    f"patches of {', '.join(names)} (scale {scale}) -> the patches")


def paired_jitter(*tensors: Tensor, generator: torch.Generator | None = None, pad: int = 2,
                  flip: bool = True) -> tuple[Tensor, ...]:
    """pix2pix's augmentation, drawn once per *pair*: each sample is up-scaled by ``2·pad``
    pixels (bilinear), cropped back at a random offset, and mirrored left-right with probability
    ½ when ``flip``. Every tensor (B, C_k, H, W) gets the same crop and mirror for sample i, so
    input and target stay aligned. ``generator`` (CPU) makes the draw reproducible."""
    if not tensors:
        raise ValueError("paired_jitter needs at least one tensor")
    b, h, w = len(tensors[0]), tensors[0].shape[-2], tensors[0].shape[-1]
    if any(t.ndim != 4 or len(t) != b or t.shape[-2:] != (h, w) for t in tensors):
        raise ValueError(f"all tensors must be (B, C, H, W) with the same B, H, W, got "
                         f"{[tuple(t.shape) for t in tensors]}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    top = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    mirror = torch.rand(b, generator=generator) < 0.5 if flip else torch.zeros(b, dtype=torch.bool)
    out = []
    for t in tensors:
        big = F.interpolate(t, size=(h + 2 * pad, w + 2 * pad), mode="bilinear",
                            align_corners=False) if pad else t                    # (B, C, H+2p, W+2p)
        crops = torch.stack([big[i, :, top[i]:top[i] + h, left[i]:left[i] + w] for i in range(b)])
        crops = torch.where(mirror.view(b, 1, 1, 1).to(t.device), crops.flip(-1), crops)
        out.append(crops)                                                          # (B, C, H, W)
    return tuple(out)


# ----------------------------------------------------------------------------- unpaired domains
def digit_domains(split: str = "train", root: str | Path | None = None,
                  offline: bool | None = None) -> tuple[ImageDataset, ImageDataset]:
    """Two handwriting domains in the same 28 px frame, with labels (for judging only):
    A = real MNIST (``mnist-10k`` offline: thin pen strokes, 28×28 scans) and B = the
    scikit-learn digits (8×8 scans with 16 grey levels, upsampled: blocky, thick, blurred).
    Same classes, different writers, scanners and resolutions, and no pairing between them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetFallbackWarning)
        a = load("mnist", split=split, root=root, offline=offline, image_size=28)
    return a, load("digits", split=split, root=root, offline=offline, image_size=28)


def rescan_8x8(images: Tensor, levels: int = 16, threshold: float = -0.5) -> Tensor:
    """Digits (N, 1, 28, 28) in [-1, 1] rendered the way the scikit-learn digits were acquired: the
    ink's bounding box (pixels above ``threshold``, padded to a square) averaged down to 8×8, grey
    levels rounded to ``levels`` + 1 values, then upsampled into the 20 px box of the 28 px frame as
    ``data.load("digits")`` does. A hand-made A → B translation that changes only how a digit is
    scanned, never its shape: the reference for what a rendering-only translation can keep."""
    from gancourse.data.images import resize

    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"images must be (N, 1, 28, 28) digits, got {tuple(images.shape)}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    small = []
    for x in images.detach().float().cpu():                                      # (1, 28, 28)
        ink = x[0] > threshold
        if not ink.any():
            small.append(torch.full((1, 8, 8), -1.0))
            continue
        rows, cols = torch.nonzero(ink.any(1)).flatten(), torch.nonzero(ink.any(0)).flatten()
        box = x[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = box.shape[-2:]
        side = max(h, w)
        box = F.pad(box, ((side - w) // 2, side - w - (side - w) // 2,
                          (side - h) // 2, side - h - (side - h) // 2), value=-1.0)  # (1, side, side)
        small.append(F.interpolate(box[None], size=(8, 8), mode="area")[0])     # (1, 8, 8)
    small = torch.stack(small)
    small = torch.round((small + 1) / 2 * levels) / levels * 2 - 1               # 17 grey levels
    return F.pad(resize(small, 20), (4, 4, 4, 4), value=-1.0)                   # (N, 1, 28, 28)
