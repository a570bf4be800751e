"""The dataset registry: one ``load(name, ...)`` for every image dataset in the course.

Real datasets come from torchvision, which downloads them from their official mirrors
and verifies each archive's MD5 checksum. When a real dataset is not on disk and a
download is forbidden (``offline``) or fails, ``load`` falls back to the dataset's
offline stand-in and says so in a :class:`DatasetFallbackWarning` naming both.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gancourse import runtime
from gancourse.data.images import ImageDataset, check_image_size, resize, to_unit_range
from gancourse.data.mnist10k import NAME as MNIST10K
from gancourse.data.mnist10k import load_mnist10k
from gancourse.data.standins import load_digits, load_shapes

SPLITS = ("train", "test")


class DatasetUnavailable(RuntimeError):
    """A dataset is neither on disk nor downloadable, and no stand-in may replace it."""


class DatasetFallbackWarning(UserWarning):
    """A stand-in replaced the requested dataset."""


@dataclass(frozen=True)
class DatasetSpec:
    """How to get one dataset.

    ``fetch(root, split, download)`` returns ``(images uint8 (N, C, H, W), labels (N,),
    class_names)`` or raises; ``standin`` names the registered dataset that replaces it
    offline (None: no stand-in).
    """

    name: str
    native_size: int
    channels: int
    fetch: Callable[[Path, str, bool], tuple[torch.Tensor, torch.Tensor, list[str]]] | None
    standin: str | None
    build: Callable[[str, int], ImageDataset] | None = None   # for procedural/bundled sets
    description: str = ""


def _torchvision_fetch(cls_name: str) -> Callable:
    def fetch(root: Path, split: str, download: bool):
        import torchvision

        cls = getattr(torchvision.datasets, cls_name)
        ds = cls(root=str(root), train=(split == "train"), download=download)
        data = ds.data
        data = torch.as_tensor(np.asarray(data))
        data = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W)
        return data, torch.as_tensor(np.asarray(ds.targets)), list(ds.classes)

    return fetch


_REGISTRY: dict[str, DatasetSpec] = {}
_ALIASES = {"fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist",
            "cifar-10": "cifar10", "cifar": "cifar10", "mnist10k": MNIST10K, "mnist_10k": MNIST10K}


def register(spec: DatasetSpec) -> None:
    """Add a dataset to the registry (replacing one of the same name)."""
    _REGISTRY[spec.name] = spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(_REGISTRY)


def spec(name: str) -> DatasetSpec:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; valid datasets are {', '.join(available())}")
    return _REGISTRY[key]


register(DatasetSpec("digits", 28, 1, fetch=None, standin=None, build=lambda s, k: load_digits(s, k),
                     description="scikit-learn 8x8 handwritten digits in a 28 px MNIST-like frame"))
register(DatasetSpec("shapes", 32, 3, fetch=None, standin=None, build=lambda s, k: load_shapes(s, k),
                     description="procedural coloured shapes, 6 classes"))
register(DatasetSpec(MNIST10K, 28, 1, fetch=None, standin=None,
                     build=lambda s, k: load_mnist10k(s, k),
                     description="the 10,000 real MNIST test digits shipped with the course "
                                 "(9,000 train / 1,000 held-out)"))
register(DatasetSpec("mnist", 28, 1, fetch=_torchvision_fetch("MNIST"), standin=MNIST10K,
                     description="MNIST handwritten digits (torchvision)"))
register(DatasetSpec("fashion_mnist", 28, 1, fetch=_torchvision_fetch("FashionMNIST"),
                     standin="digits", description="Fashion-MNIST clothing (torchvision)"))
register(DatasetSpec("cifar10", 32, 3, fetch=_torchvision_fetch("CIFAR10"), standin="shapes",
                     description="CIFAR-10 natural images (torchvision)"))


def load(name: str, split: str = "train", root: str | Path | None = None,
         offline: bool | None = None, image_size: int | None = None,
         fallback: bool = True) -> ImageDataset:
    """Load dataset ``name`` as an :class:`ImageDataset` of (N, C, H, W) tensors in [-1, 1].

    Args:
        name: one of :func:`available` (``mnist``, ``fashion_mnist``, ``cifar10``,
            ``mnist-10k``, ``digits``, ``shapes``). Offline, ``mnist`` becomes ``mnist-10k``
            (real digits shipped with the course), ``fashion_mnist`` the scikit-learn
            ``digits`` and ``cifar10`` the procedural ``shapes``.
        split: ``"train"`` or ``"test"`` (the held-out images).
        root: download cache; default :func:`gancourse.runtime.default_data_root`.
        offline: forbid downloads; None reads ``GANCOURSE_OFFLINE``.
        image_size: 28, 32 or 64; None keeps the dataset's own size.
        fallback: when the real dataset can't be had, return its stand-in (with a
            warning) instead of raising :class:`DatasetUnavailable`.
    """
    s = spec(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(SPLITS)}")
    size = check_image_size(image_size if image_size is not None else s.native_size)
    if s.build is not None:
        return s.build(split, size)
    root = Path(root).expanduser() if root else runtime.default_data_root()
    offline = runtime.resolve_offline(offline)
    try:
        raw, labels, classes = _fetch(s, root, split, offline)
    except DatasetUnavailable as err:
        if not fallback or s.standin is None:
            hint = (f" Its offline stand-in is {s.standin!r}." if s.standin
                    else " It has no offline stand-in.")
            raise DatasetUnavailable(f"{err}{hint}") from err
        warnings.warn(DatasetFallbackWarning(
            f"{s.name} is not available ({err}); using {s.standin!r} instead: "
            f"{spec(s.standin).description}. Results are for {s.standin!r}, not {s.name!r}."),
            stacklevel=2)
        ds = load(s.standin, split=split, root=root, offline=True, image_size=size)
        ds.requested, ds.fallback = s.name, str(err)
        return ds
    images = resize(to_unit_range(raw, 255.0), size)
    return ImageDataset(images, labels, name=s.name, class_names=classes, split=split)


def _fetch(s: DatasetSpec, root: Path, split: str, offline: bool):
    """Load from ``root``; download only when allowed. Raises DatasetUnavailable."""
    try:
        return s.fetch(root, split, False)
    except RuntimeError:
        pass                                       # torchvision: "Dataset not found"
    if offline:
        raise DatasetUnavailable(f"{s.name} is not in {root} and downloads are forbidden "
                                 f"(offline=True or GANCOURSE_OFFLINE=1)")
    try:
        return s.fetch(root, split, True)
    except Exception as err:                       # network errors come in many types
        raise DatasetUnavailable(f"downloading {s.name} into {root} failed: "
                                 f"{type(err).__name__}: {err}") from err
