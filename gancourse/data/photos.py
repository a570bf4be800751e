"""Real photographs that need no network: the images bundled with scikit-image.

Image-to-image lessons (pix2pix's photo task, super-resolution, digits on photo textures) train
on patches of some photographs and are judged only on photographs they never saw. The split is
fixed here, the same on every machine:

* colour, training: astronaut, coffee, hubble_deep_field, immunohistochemistry, retina;
* colour, held out: chelsea (a cat), rocket;
* grey, training: camera, moon, grass, gravel, brick, clock;
* grey, held out: coins, cell.

(scikit-image's ``cat`` is ``chelsea`` again, so it is not used.) :func:`photo` gives one image
as a float tensor (C, H, W) in [-1, 1]; :func:`patches` cuts random square patches, reproducibly,
from a list of photos.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

COLOUR_TRAIN = ("astronaut", "coffee", "hubble_deep_field", "immunohistochemistry", "retina")
COLOUR_HELD_OUT = ("chelsea", "rocket")
GREY_TRAIN = ("camera", "moon", "grass", "gravel", "brick", "clock")
GREY_HELD_OUT = ("coins", "cell")
PHOTOS = COLOUR_TRAIN + COLOUR_HELD_OUT + GREY_TRAIN + GREY_HELD_OUT


@functools.lru_cache(maxsize=16)
def _raw(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def photo(name: str, channels: int | None = None) -> torch.Tensor:
    """The bundled photograph ``name`` as (C, H, W) float32 in [-1, 1].

    ``channels`` None keeps the photo's own (3 colour, 1 grey); 3 repeats a grey photo, 1 turns
    a colour photo into luminance (ITU-R 601: 0.299 R + 0.587 G + 0.114 B).
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; the course uses {', '.join(PHOTOS)}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
    raw = _raw(name)
    x = torch.from_numpy(raw.astype(np.float32) / 255.0)
    x = x[None] if x.ndim == 2 else x[..., :3].permute(2, 0, 1)          # (C, H, W) in [0, 1]
    if channels == 1 and x.shape[0] == 3:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
    elif channels == 3 and x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return (x * 2 - 1).contiguous()


def patches(names: tuple[str, ...] | list[str], n: int, size: int, channels: int = 3,
            seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` patches (n, channels, size, size) in [-1, 1], drawn
    uniformly over the photos ``names`` (each photo equally likely) and over positions.

    ``scale`` < 1 first shrinks every photo by that factor (antialiased), so a patch covers
    more of the scene. The same ``seed`` gives the same patches.
    """
    if n < 1 or size < 4:
        raise ValueError(f"need n >= 1 patches of size >= 4, got n={n}, size={size}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must lie in (0, 1], got {scale}")
    images = []
    for name in names:
        x = photo(name, channels)
        if scale < 1:
            h, w = x.shape[-2:]
            x = torch.nn.functional.interpolate(x[None], size=(max(size, round(h * scale)),
                                                               max(size, round(w * scale))),
                                                mode="bilinear", antialias=True, align_corners=False)[0]
        if min(x.shape[-2:]) < size:
            raise ValueError(f"photo {name!r} ({tuple(x.shape[-2:])}) is smaller than a {size} px patch")
        images.append(x)
    if not images:
        raise ValueError("no photos given")
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(images), (n,), generator=g)
    out = torch.empty(n, channels, size, size)
    for i, k in enumerate(which.tolist()):
        h, w = images[k].shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        out[i] = images[k][:, top:top + size, left:left + size]
    return out
