"""``mnist-10k``: 10,000 real MNIST digits shipped with the course (its offline MNIST).

The official MNIST test set (LeCun, Cortes & Burges; CC BY-SA 3.0) lives in the checkout
as the two published archives, ``data/mnist-10k/t10k-{images-idx3,labels-idx1}-ubyte.gz``.
Every load checks their MD5 sums (the ones torchvision checks for the same files) and
parses the IDX format::

    images: magic 2051 (>i4), N, rows, cols, then N·rows·cols uint8 pixels, row-major
    labels: magic 2049 (>i4), N, then N uint8 labels

A fixed stratified split (10 % of each class held out, the same on every machine) gives
9,000 training and 1,000 held-out images. ``data.load("mnist")`` returns this set, named
``mnist-10k``, whenever the full MNIST is neither on disk nor downloadable.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import torch

from gancourse import runtime
from gancourse.data.images import ImageDataset, check_image_size, resize, stratified_split, to_unit_range

NAME = "mnist-10k"
FILES = {  # file name -> MD5 of the published archive (as torchvision checks it)
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
TEST_SHARE = 0.1          # 1,000 of 10,000 held out, stratified by class
SPLIT_SEED = 10_000
CLASSES = [str(i) for i in range(10)]


class ShippedDataError(RuntimeError):
    """The shipped digits are missing or do not match their checksums."""


def shipped_dir() -> Path:
    """``<checkout>/data/mnist-10k`` (the archives travel with the source checkout)."""
    root = runtime.repo_root()
    if root is None:
        raise ShippedDataError("mnist-10k ships in data/mnist-10k of a source checkout of "
                               "gancourse; clone the repository and `pip install -e .` there")
    return root / "data" / "mnist-10k"


def _read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    header = np.frombuffer(raw, dtype=">i4", count=1 + dims)
    if int(header[0]) != magic:
        raise ShippedDataError(f"{path.name}: IDX magic number {int(header[0])}, expected {magic}")
    shape = tuple(int(d) for d in header[1:])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    if body.size != int(np.prod(shape)):
        raise ShippedDataError(f"{path.name}: {body.size} bytes of data for shape {shape}")
    return body.reshape(shape)


def read_raw(directory: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All 10,000 images (uint8 (N, 1, 28, 28)) and labels (N,), after checking the MD5s.

    Read and checked once per process while the files stay the same (a notebook loads both
    splits several times); the tensors are shared, so index or copy them, never write into them.
    """
    directory = Path(directory) if directory is not None else shipped_dir()
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
                  for p in (directory / name for name in FILES))
    return _read_raw(directory, stamp)


@functools.lru_cache(maxsize=4)
def _read_raw(directory: Path, stamp: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets.utils import check_md5

    for name, md5 in FILES.items():
        path = directory / name
        if not path.is_file():
            raise ShippedDataError(f"{path} is missing; restore it from the repository "
                                   f"(git checkout -- data/mnist-10k)")
        if not check_md5(str(path), md5):
            raise ShippedDataError(f"{path} does not match its MD5 {md5} (corrupt or changed); "
                                   f"restore it from the repository (git checkout -- data/mnist-10k)")
    images = _read_idx(directory / "t10k-images-idx3-ubyte.gz", 2051, 3)    # (N, 28, 28)
    labels = _read_idx(directory / "t10k-labels-idx1-ubyte.gz", 2049, 1)    # (N,)
    if len(images) != len(labels):
        raise ShippedDataError(f"{len(images)} images but {len(labels)} labels")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def load_mnist10k(split: str = "train", image_size: int = 28,
                  directory: str | Path | None = None) -> ImageDataset:
    """The shipped digits as an :class:`ImageDataset` in [-1, 1] (9,000 train / 1,000 test)."""
    check_image_size(image_size)
    raw, labels = read_raw(directory)
    idx = torch.from_numpy(stratified_split(labels.numpy(), split, TEST_SHARE, SPLIT_SEED))
    images = resize(to_unit_range(raw[idx], 255.0), image_size)             # (n, 1, S, S)
    return ImageDataset(images, labels[idx], name=NAME, class_names=CLASSES, split=split)
