"""In-memory image datasets and fast batch loaders.

Every image dataset in the course is small enough to hold as one tensor, scaled to
[-1, 1] (the range of a ``tanh`` generator). Holding tensors instead of PIL images
makes a training step on a laptop CPU cost the model, not the data pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

IMAGE_SIZES = (28, 32, 64)


def check_image_size(image_size: int) -> int:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size={image_size!r} is not supported; valid sizes are "
                         f"{', '.join(map(str, IMAGE_SIZES))}")
    return int(image_size)


def to_unit_range(images: torch.Tensor, max_value: float) -> torch.Tensor:
    """Map pixel values in [0, max_value] to [-1, 1] as float32."""
    return images.float().div(max_value).mul(2.0).sub(1.0).clamp_(-1.0, 1.0)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) images in [-1, 1] to (N, C, size, size) (antialiased bilinear)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=images.shape[-1] > size)
    return out.clamp_(-1.0, 1.0)


def stratified_split(labels: np.ndarray, split: str, test_share: float, seed: int) -> np.ndarray:
    """Sorted indices of ``split`` ("train" or "test") in a deterministic stratified split:
    ``round(test_share * n_c)`` of each class's ``n_c`` items are held out, chosen by a NumPy
    generator seeded with ``seed``, so the same images are held out on every machine."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_share))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.array(train if split == "train" else test))


class ImageDataset(Dataset):
    """Labelled images held in memory.

    Attributes:
        images: float tensor (N, C, H, W) in [-1, 1].
        labels: long tensor (N,).
        name: the dataset actually loaded (``"digits"`` when MNIST fell back to it).
        requested: the name the caller asked for.
        class_names: one name per class.
        fallback: None, or why the stand-in replaced the requested dataset.

    Indexing with an int gives ``(image, label)``; with a list/tensor of indices it gives
    a stacked batch, which :func:`loader` uses to avoid per-item collation.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, name: str,
                 class_names: Sequence[str], requested: str | None = None,
                 split: str = "train", fallback: str | None = None):
        if images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images.contiguous()   # (N, C, H, W)
        self.labels = labels.long()         # (N,)
        self.name = name
        self.requested = requested or name
        self.class_names = list(class_names)
        self.split = split
        self.fallback = fallback

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def take(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images and labels chosen at random (without replacement) but reproducibly."""
        if n > len(self):
            raise ValueError(f"asked for {n} images but {self.name}/{self.split} has {len(self)}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return self.images[idx], self.labels[idx]

    def __repr__(self) -> str:
        extra = f", fell back from {self.requested!r}" if self.fallback else ""
        return (f"ImageDataset({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"shape={tuple(self.images.shape[1:])}, classes={self.num_classes}{extra})")


def loader(dataset: ImageDataset, batch_size: int, shuffle: bool = True, drop_last: bool = True,
           device: str | torch.device | None = None, seed: int | None = None) -> DataLoader:
    """A DataLoader that slices whole batches out of the in-memory tensors.

    Pinned memory is used when ``device`` is CUDA so that ``.to(device, non_blocking=True)``
    overlaps the copy with compute.
    """
    if batch_size > len(dataset) and drop_last:
        raise ValueError(f"batch_size={batch_size} exceeds the {len(dataset)} images of "
                         f"{dataset.name}/{dataset.split}; use a smaller batch or drop_last=False")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    base = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    sampler = BatchSampler(base, batch_size=batch_size, drop_last=drop_last)
    pin = device is not None and torch.device(device).type == "cuda"
    return DataLoader(dataset, sampler=sampler, batch_size=None, pin_memory=pin)
