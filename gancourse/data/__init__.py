"""Datasets: real loaders (torchvision), offline stand-ins and toy distributions.

>>> from gancourse import data
>>> ds = data.load("mnist", image_size=28)        # falls back to "digits" offline
>>> batches = data.loader(ds, batch_size=64)
>>> ring = data.toy("ring8"); x = ring.sample(2500, seed=0)
"""

from gancourse.data.images import IMAGE_SIZES, ImageDataset, loader
from gancourse.data.registry import (
    DatasetFallbackWarning,
    DatasetSpec,
    DatasetUnavailable,
    available,
    load,
    register,
    spec,
    unregister,
)
from gancourse.data.stacked import stack_digits
from gancourse.data.toy import (
    GaussianMixture,
    Moons,
    ParallelLines,
    SwissRoll,
    ToyDistribution,
    gaussian_mixture_1d,
    grid25,
    ring8,
    toy,
)

__all__ = [
    "IMAGE_SIZES", "DatasetFallbackWarning", "DatasetSpec", "DatasetUnavailable",
    "GaussianMixture", "ImageDataset", "Moons", "ParallelLines", "SwissRoll",
    "ToyDistribution", "available", "gaussian_mixture_1d", "grid25", "load", "loader",
    "register", "ring8", "spec", "stack_digits", "toy", "unregister",
]
