r"""Digit *domains*: real digits with measurable attributes (StarGAN), and digits blended onto
photographs (MNIST-M style, domain adaptation).

**Attribute domains** (notebook 20). Every real digit (``mnist``; offline the shipped
``mnist-10k``) is redrawn with three attributes, like the hair colour, gender and age of CelebA:

* **colour** of the stroke, one of red, green, blue (one-hot, exactly one is on);
* **thickness**: the digit's skeleton (``skimage.morphology.skeletonize``) redrawn as a stroke of
  radius :data:`THIN_RADIUS` or :data:`THICK_RADIUS` pixels (anti-aliased from the distance to the
  skeleton), so every digit of a domain has the same pen;
* **slant**: upright, or sheared to the slant :data:`SLANT` of italic handwriting.

That is 3 x 2 x 2 = 12 domains, each a 5-vector ``c = (red, green, blue, thick, slanted)``.
Every attribute is **measured** from the pixels alone, by functions the tests pin down, so the
target-domain accuracy of a translation is computed, not assumed:

* colour: the arg-max of the ink-weighted channel means;
* thickness: the stroke width ``w = (Σ ink) / (skeleton length)`` (ink area per unit of skeleton;
  a stroke of radius r has w ≈ 2r), thick when ``w >`` :data:`WIDTH_THRESHOLD`;
* slant: from the image moments μ11, μ02 of the ink (the quantity MNIST deskewing removes),
  ``s = -μ11 / μ02`` (a shear x' = x + s·(c_y - y) gives exactly s), slanted when
  ``s >`` :data:`SLANT` / 2.

Why a slant and not a rotation: moments give the direction of a shape's long axis, which is
ill-defined for round digits (0, 6, 8), so a rotation cannot be read reliably from them;
a shear changes the moment ratio μ11/μ02 by exactly the shear for *every* shape.
:func:`principal_angle` measures the rotation angle anyway, so a lesson can show the difference.

**Photo domains** (notebook 21): :func:`blend_on_photos` puts a digit onto a colour photo patch
the way MNIST-M (Ganin & Lempitsky, 2015) does, ``|patch - digit|`` per channel in [0, 1];
:func:`photo_digits` blends real digits onto patches of scikit-image's photographs
(:mod:`gancourse.data.photos`: training photos for the train split, held-out photos for the test
split), keeping the clean digit next to each blend (aligned pairs).

**CelebA** (gpu profile): :func:`celeba_attributes` loads CelebA through
``torchvision.datasets.CelebA`` (its official files and MD5 checks), for StarGAN's five
attributes; :func:`attribute_task` gives CelebA when it can be had and the digit domains
otherwise, with one :class:`~gancourse.data.DatasetFallbackWarning` line naming both.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gancourse import runtime
from gancourse.data import photos
from gancourse.data.images import ImageDataset
from gancourse.data.registry import DatasetFallbackWarning, DatasetUnavailable, load
from gancourse.training.batches import Paired

Tensor = torch.Tensor

ATTRIBUTES = ("red", "green", "blue", "thick", "slanted")
COLOURS = ("red", "green", "blue")
COLOUR_RGB = torch.eye(3)                     # red, green, blue strokes on black
THIN_RADIUS = 1.0                             # pixels; measured width about 2
THICK_RADIUS = 2.0                            # pixels; measured width about 4.5
WIDTH_THRESHOLD = 3.0                         # thick when the measured width exceeds this
SLANT = 0.5                                   # shear of the slanted domain (about 27 degrees)
INK_LEVEL = 0.5                               # a pixel is ink when its intensity exceeds this
CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")   # StarGAN's five


# ----------------------------------------------------------------------------- domains
def all_domains() -> Tensor:
    """The 12 domains as rows (12, 5) of ``(red, green, blue, thick, slanted)``, colour-major."""
    rows = [[*COLOUR_RGB[k].tolist(), float(t), float(s)]
            for k in range(3) for t in (0, 1) for s in (0, 1)]
    return torch.tensor(rows)


def domain_name(c: Tensor) -> str:
    """A readable name of one domain vector, e.g. ``"red thick slanted"``."""
    check_attributes(c[None] if c.ndim == 1 else c)
    c = c.flatten()
    colour = COLOURS[int(c[:3].argmax())]
    return f"{colour} {'thick' if c[3] > 0.5 else 'thin'} {'slanted' if c[4] > 0.5 else 'upright'}"


def domain_index(attrs: Tensor) -> Tensor:
    """Index (N,) of each row of ``attrs`` (N, 5) in :func:`all_domains`."""
    check_attributes(attrs)
    return attrs[:, :3].argmax(1) * 4 + attrs[:, 3].round().long() * 2 + attrs[:, 4].round().long()


def check_attributes(attrs: Tensor) -> None:
    """Raise ValueError unless ``attrs`` is (N, 5) of 0/1 with exactly one colour on."""
    if not isinstance(attrs, Tensor) or attrs.ndim != 2 or attrs.shape[1] != len(ATTRIBUTES):
        raise ValueError(f"attributes must be a tensor (N, {len(ATTRIBUTES)}) of "
                         f"{ATTRIBUTES}, got {tuple(getattr(attrs, 'shape', ()))}")
    a = attrs.detach().float().cpu()
    if not bool(((a == 0) | (a == 1)).all()):
        raise ValueError("attributes must be 0 or 1")
    if not bool((a[:, :3].sum(1) == 1).all()):
        raise ValueError("exactly one of red, green, blue must be 1 in every row")


def random_domains(n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` domain vectors (n, 5) drawn uniformly from the 12 domains."""
    idx = torch.randint(12, (n,), generator=generator)
    return all_domains()[idx]


# ----------------------------------------------------------------------------- drawing
def _check_images(images: Tensor, channels: tuple[int, ...] = (1, 3)) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] not in channels:
        raise ValueError(f"images must be a tensor (N, C, H, W) with C in {channels}, got "
                         f"{tuple(getattr(images, 'shape', ()))}")


def ink(images: Tensor) -> Tensor:
    """Stroke intensity (N, H, W) in [0, 1] of (N, 1 or 3, H, W) images in [-1, 1] on black:
    the brightest channel, so a red, green or blue stroke has the intensity of a grey one."""
    _check_images(images)
    return ((images.detach().float().cpu().amax(1) + 1) / 2).clamp(0, 1)


def to_grey(images: Tensor) -> Tensor:
    """(N, 1, H, W) grey digits in [-1, 1] for the digit judge: the brightest channel per pixel
    (not the luminance, which would make a blue stroke dark)."""
    return ink(images).mul(2).sub(1).unsqueeze(1)


def stroke_render(images: Tensor, radius: float) -> Tensor:
    """Redraw each digit with a round pen of ``radius`` pixels: skeleton of the ink
    (``skimage.morphology.skeletonize`` of intensity > ½), then intensity
    ``clip(radius + ½ - d, 0, 1)`` with d the distance to the skeleton. (N, 1, H, W) in [-1, 1]."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    if not radius > 0:
        raise ValueError(f"radius must be > 0 pixels, got {radius}")
    u = ink(images).numpy()                                          # (N, H, W)
    out = np.zeros_like(u)
    for i, img in enumerate(u):
        skeleton = skeletonize(img > INK_LEVEL)
        if skeleton.any():
            dist = ndimage.distance_transform_edt(~skeleton)
            out[i] = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    return torch.from_numpy(out).unsqueeze(1).mul(2).sub(1)


def ink_moments(images: Tensor) -> dict[str, Tensor]:
    """Ink-weighted image moments, each (N,): centroid ``cx``, ``cy`` (pixels) and central
    second moments ``mu20`` (x·x), ``mu02`` (y·y), ``mu11`` (x·y), normalised by the ink mass."""
    u = ink(images)                                                  # (N, H, W)
    h, w = u.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    mass = u.sum((1, 2)).clamp_min(1e-6)
    cx, cy = (u * xs).sum((1, 2)) / mass, (u * ys).sum((1, 2)) / mass
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    return {"cx": cx, "cy": cy, "mu20": (u * dx * dx).sum((1, 2)) / mass,
            "mu02": (u * dy * dy).sum((1, 2)) / mass, "mu11": (u * dx * dy).sum((1, 2)) / mass}


def shear(images: Tensor, amount: Tensor | float, cy: Tensor | float | None = None) -> Tensor:
    """Shear each image horizontally about row ``cy`` (default: its ink centroid): the pixel at
    (x, y) moves to (x + amount·(cy - y), y), so the top leans right for ``amount`` > 0.
    Bilinear, background -1 outside. ``amount`` and ``cy`` are scalars or (N,)."""
    _check_images(images)
    n, _, h, w = images.shape
    if h != w:
        raise ValueError(f"shear needs square images, got {h}x{w}")
    a = torch.as_tensor(amount, dtype=torch.float32).expand(n)
    cy_t = ink_moments(images)["cy"] if cy is None else torch.as_tensor(cy, dtype=torch.float32).expand(n)
    cyn = (2 * cy_t + 1) / h - 1                                     # centroid row in [-1, 1] units
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 1], theta[:, 0, 2] = a, -a * cyn                     # x_in = x_out + a (y_out - cy)
    x = images.detach().float().cpu()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def slant(images: Tensor) -> Tensor:
    """Measured slant (N,): ``-μ11 / μ02`` of the ink; 0 upright, > 0 leaning right (italic)."""
    m = ink_moments(images)
    return -m["mu11"] / m["mu02"].clamp_min(1e-6)


def set_slant(images: Tensor, target: Tensor | float) -> Tensor:
    """Shear each image so that its measured :func:`slant` becomes ``target`` (0: deskew)."""
    return shear(images, torch.as_tensor(target, dtype=torch.float32) - slant(images))


def principal_angle(images: Tensor) -> Tensor:
    """Angle (N,) in degrees of the ink's long axis from the vertical (image moments):
    ½·atan2(2μ11, μ20 - μ02) measured from the x axis, turned into degrees from upright.
    Ill-defined for round shapes (μ20 ≈ μ02, μ11 ≈ 0)."""
    m = ink_moments(images)
    theta = 0.5 * torch.atan2(2 * m["mu11"], m["mu20"] - m["mu02"])  # from the x axis
    deg = torch.rad2deg(theta)
    return torch.where(deg > 0, 90 - deg, -90 - deg)


def stroke_width(images: Tensor) -> Tensor:
    """Measured stroke width (N,) in pixels: ink mass over skeleton length (0 for a blank image)."""
    from skimage.morphology import skeletonize

    u = ink(images).numpy()
    out = np.zeros(len(u), dtype=np.float32)
    for i, img in enumerate(u):
        length = skeletonize(img > INK_LEVEL).sum()
        out[i] = img.sum() / length if length else 0.0
    return torch.from_numpy(out)


def stroke_colour(images: Tensor) -> Tensor:
    """Index (N,) of the dominant stroke colour (0 red, 1 green, 2 blue): the arg-max of the
    channel means weighted by the ink. Grey images (1 channel) raise ValueError."""
    _check_images(images, channels=(3,))
    u = ink(images)                                                  # (N, H, W) weights
    unit = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)     # (N, 3, H, W)
    means = (unit * u[:, None]).sum((2, 3)) / u.sum((1, 2)).clamp_min(1e-6)[:, None]
    return means.argmax(1)


def colourise(grey: Tensor, rgb: Tensor) -> Tensor:
    """Colour grey digits (N, 1, H, W) in [-1, 1] with stroke colours ``rgb`` (N, 3) in [0, 1]
    on a black background: (N, 3, H, W) in [-1, 1]."""
    _check_images(grey, channels=(1,))
    if rgb.shape != (len(grey), 3):
        raise ValueError(f"rgb must be ({len(grey)}, 3), got {tuple(rgb.shape)}")
    u = ink(grey)                                                    # (N, H, W)
    return (u[:, None] * rgb.float().cpu()[:, :, None, None]).mul(2).sub(1)


def draw_domains(grey: Tensor, attrs: Tensor, renders: dict[float, Tensor] | None = None) -> Tensor:
    """Real grey digits (N, 1, H, W) drawn in the domains ``attrs`` (N, 5): pen of the thickness,
    then the slant, then the colour. (N, 3, H, W) in [-1, 1]. ``renders`` may hold the
    :func:`stroke_render` of ``grey`` at each radius (to draw one digit in many domains)."""
    _check_images(grey, channels=(1,))
    check_attributes(attrs)
    if len(attrs) != len(grey):
        raise ValueError(f"{len(grey)} digits but {len(attrs)} attribute rows")
    a = attrs.float().cpu()
    thick = a[:, 3] > 0.5
    pen = torch.empty_like(grey, dtype=torch.float32)
    for mask, radius in ((~thick, THIN_RADIUS), (thick, THICK_RADIUS)):
        if mask.any():
            pen[mask] = (renders[radius][mask] if renders is not None
                         else stroke_render(grey[mask], radius))
    slanted = set_slant(pen, a[:, 4] * SLANT)
    return colourise(slanted, a[:, :3])


def measure_attributes(images: Tensor) -> Tensor:
    """The attributes (N, 5) read from the pixels: one-hot :func:`stroke_colour`, thick when
    :func:`stroke_width` > WIDTH_THRESHOLD, slanted when :func:`slant` > SLANT / 2."""
    colour = F.one_hot(stroke_colour(images), 3).float()
    thick = (stroke_width(images) > WIDTH_THRESHOLD).float()[:, None]
    slanted = (slant(images) > SLANT / 2).float()[:, None]
    return torch.cat([colour, thick, slanted], 1)


def attribute_accuracy(images: Tensor, target: Tensor) -> dict[str, float]:
    """How often the measured attributes of ``images`` match ``target`` (N, 5): per attribute
    (``colour``, ``thickness``, ``slant``), their mean (``mean``) and all three at once
    (``domain``: the image is in the target domain)."""
    check_attributes(target)
    if len(images) != len(target):
        raise ValueError(f"{len(images)} images but {len(target)} target rows")
    got, want = measure_attributes(images), target.float().cpu()
    ok = {"colour": (got[:, :3].argmax(1) == want[:, :3].argmax(1)),
          "thickness": got[:, 3] == want[:, 3], "slant": got[:, 4] == want[:, 4]}
    out = {k: v.float().mean().item() for k, v in ok.items()}
    out["mean"] = sum(out.values()) / 3
    out["domain"] = (ok["colour"] & ok["thickness"] & ok["slant"]).float().mean().item()
    return out


# ----------------------------------------------------------------------------- datasets
@dataclass
class AttributeDigits:
    """Real digits drawn in attribute domains.

    ``images`` (N, 3, H, W) in [-1, 1]; ``attrs`` (N, 5) float 0/1 (:data:`ATTRIBUTES`), the
    domain of each image; ``labels`` (N,) the digit classes (for the judge only); ``grey``
    (N, 1, H, W) the source digits as loaded. ``labels``/``images`` make it a training source
    for :class:`~gancourse.training.GANTrainer` with ``batch.y`` the attribute vector: use
    :meth:`training_source`.
    """

    images: Tensor
    attrs: Tensor
    labels: Tensor
    grey: Tensor
    name: str
    split: str
    attribute_names: tuple[str, ...] = ATTRIBUTES
    requested: str | None = None
    fallback: str | None = None

    def __post_init__(self):
        n = len(self.images)
        if self.images.ndim != 4 or len(self.attrs) != n or len(self.labels) != n:
            raise ValueError(f"need (N, C, H, W) images with N attribute rows and N labels, got "
                             f"{tuple(self.images.shape)}, {tuple(self.attrs.shape)}, "
                             f"{tuple(self.labels.shape)}")
        self.requested = self.requested or self.name

    def __len__(self) -> int:
        return len(self.images)

    def training_source(self) -> Paired:
        """The training source: batches with ``batch.x`` the images and ``batch.y`` their
        attribute vectors (B, A) as floats (digit labels stay out of training)."""
        return Paired(x=self.images, y=self.attrs.float())

    def __repr__(self) -> str:
        extra = f", fell back from {self.requested!r}" if self.fallback else ""
        return (f"AttributeDigits({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"shape={tuple(self.images.shape[1:])}, attributes={list(self.attribute_names)}{extra})")


@functools.lru_cache(maxsize=8)
def _attribute_digits(split: str, n: int | None, seed: int, root: str | None,
                      offline: bool | None) -> AttributeDigits:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetFallbackWarning)   # mnist -> mnist-10k is expected offline
        ds = load("mnist", split=split, root=root, offline=offline, image_size=28)
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 7919))
    if n is None:
        idx = torch.arange(len(ds))
    else:
        if not 1 <= n <= len(ds):
            raise ValueError(f"n must lie in [1, {len(ds)}] for {ds.name}/{split}, got {n}")
        idx = torch.randperm(len(ds), generator=g)[:n].sort().values
    grey, labels = ds.images[idx], ds.labels[idx]
    attrs = random_domains(len(idx), generator=g)
    images = draw_domains(grey, attrs)
    return AttributeDigits(images, attrs, labels, grey, name=f"{ds.name}-attributes", split=split)


def attribute_digits(split: str = "train", n: int | None = None, seed: int = 0,
                     root: str | Path | None = None, offline: bool | None = None) -> AttributeDigits:
    """Real digits, each drawn in a domain chosen uniformly among the 12 (seeded): ``n`` digits
    of ``split`` (all when None; ``mnist-10k`` offline has 9,000 / 1,000). Cached per process."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits are train, test")
    return _attribute_digits(split, n, int(seed), None if root is None else str(root), offline)


def every_domain(grey: Tensor) -> Tensor:
    """Each of the digits (N, 1, H, W) drawn in all 12 domains: (N, 12, 3, H, W), aligned pairs
    (row i is always digit i; column k always domain k of :func:`all_domains`)."""
    _check_images(grey, channels=(1,))
    renders = {r: stroke_render(grey, r) for r in (THIN_RADIUS, THICK_RADIUS)}
    doms = all_domains()
    cols = [draw_domains(grey, doms[k].expand(len(grey), -1), renders=renders) for k in range(len(doms))]
    return torch.stack(cols, 1)


# ----------------------------------------------------------------------------- photo domains
def blend_on_photos(digits: Tensor, patches: Tensor) -> Tensor:
    """MNIST-M's blend: ``|patch - digit|`` per channel in [0, 1] units, so the stroke inverts
    the photo's colours under it. Digits (N, 1, H, W), patches (N, 3, H, W), both in [-1, 1];
    returns (N, 3, H, W) in [-1, 1]."""
    _check_images(digits, channels=(1,))
    _check_images(patches, channels=(3,))
    if len(digits) != len(patches) or digits.shape[-2:] != patches.shape[-2:]:
        raise ValueError(f"need one patch per digit of the same size, got {tuple(digits.shape)} "
                         f"and {tuple(patches.shape)}")
    d = (digits.float() + 1) / 2                                     # (N, 1, H, W) in [0, 1]
    p = (patches.float() + 1) / 2                                    # (N, 3, H, W)
    return (p - d).abs().mul(2).sub(1)


def to_rgb(images: Tensor) -> Tensor:
    """Grey images (N, 1, H, W) repeated into 3 channels (colour images pass unchanged)."""
    _check_images(images)
    return images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images


@dataclass
class PhotoDigits:
    """Digits blended onto photo patches, with their sources aligned row by row.

    ``images`` (N, 3, H, W) the blends, ``labels`` (N,), ``clean`` (N, 1, H, W) the digit of each
    blend and ``patches`` (N, 3, H, W) its background; ``photos`` names the photographs used.
    """

    images: Tensor
    labels: Tensor
    clean: Tensor
    patches: Tensor
    name: str
    split: str
    photos: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def dataset(self) -> ImageDataset:
        """The blends as an :class:`ImageDataset` (for classifiers and the trainer)."""
        return ImageDataset(self.images, self.labels, name=self.name,
                            class_names=[str(i) for i in range(10)], split=self.split)

    def __repr__(self) -> str:
        return (f"PhotoDigits({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"photos={list(self.photos)})")


@functools.lru_cache(maxsize=8)
def _photo_digits(split: str, n: int | None, seed: int, scale: float, root: str | None,
                  offline: bool | None) -> PhotoDigits:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetFallbackWarning)
        ds = load("mnist", split=split, root=root, offline=offline, image_size=28)
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 7919))
    if n is None:
        idx = torch.arange(len(ds))
    else:
        if not 1 <= n <= len(ds):
            raise ValueError(f"n must lie in [1, {len(ds)}] for {ds.name}/{split}, got {n}")
        idx = torch.randperm(len(ds), generator=g)[:n].sort().values
    names = photos.COLOUR_TRAIN if split == "train" else photos.COLOUR_HELD_OUT
    patches = photos.patches(names, len(idx), 28, channels=3, scale=scale,
                             seed=seed + (0 if split == "train" else 10_000))
    clean = ds.images[idx]
    return PhotoDigits(blend_on_photos(clean, patches), ds.labels[idx], clean, patches,
                       name=f"{ds.name}-on-photos", split=split, photos=tuple(names))


def photo_digits(split: str = "train", n: int | None = None, seed: int = 0, scale: float = 0.5,
                 root: str | Path | None = None, offline: bool | None = None) -> PhotoDigits:
    """Real digits blended onto 28 px colour patches (MNIST-M style): the training photos of
    :mod:`gancourse.data.photos` for ``"train"``, the held-out photos (never trained on) for
    ``"test"``. ``scale`` shrinks the photos first (a patch then holds more of the scene)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits are train, test")
    return _photo_digits(split, n, int(seed), float(scale), None if root is None else str(root), offline)


# ----------------------------------------------------------------------------- CelebA
def celeba_attributes(split: str = "train", root: str | Path | None = None,
                      offline: bool | None = None, image_size: int = 128, n: int | None = None,
                      attributes: tuple[str, ...] = CELEBA_ATTRIBUTES) -> tuple[Tensor, Tensor]:
    """CelebA faces (N, 3, S, S) in [-1, 1] and their ``attributes`` (N, A) as 0/1, through
    ``torchvision.datasets.CelebA`` (official files, MD5 checks; downloaded when allowed).
    StarGAN's crop: the central 178 px, resized to ``image_size``. ``n`` caps the count (the
    first n of the split). The tensors are cached under ``<root>/celeba_stargan/``. Raises
    :class:`DatasetUnavailable` when CelebA cannot be had."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits are train, test")
    base = (Path(root).expanduser() if root else runtime.default_data_root())
    cache = base / "celeba_stargan" / f"{split}_{image_size}px_{n or 'all'}_{'-'.join(attributes)}.pt"
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        return saved["images"].float().div(127.5).sub(1), saved["attrs"].float()
    images, attrs = _celeba_build(split, base, runtime.resolve_offline(offline), image_size, n, attributes)
    buf = io.BytesIO()
    torch.save({"images": images, "attrs": attrs}, buf)
    runtime.atomic_write_bytes(cache, buf.getvalue())
    return images.float().div(127.5).sub(1), attrs.float()


def _celeba_build(split: str, base: Path, offline: bool, image_size: int, n: int | None,
                  attributes: tuple[str, ...]) -> tuple[Tensor, Tensor]:
    import torchvision
    from torchvision.transforms import v2

    def make(download: bool):
        return torchvision.datasets.CelebA(str(base), split=split, target_type="attr", download=download)

    try:
        ds = make(False)
    except RuntimeError as err:                     # "Dataset not found or corrupted"
        if offline:
            raise DatasetUnavailable(f"CelebA is not in {base} and downloads are forbidden "
                                     f"(offline=True or GANCOURSE_OFFLINE=1)") from err
        try:
            ds = make(True)
        except Exception as err2:                   # network and Google Drive quota errors
            raise DatasetUnavailable(f"downloading CelebA into {base} failed: "
                                     f"{type(err2).__name__}: {err2}") from err2
    missing = [a for a in attributes if a not in ds.attr_names]
    if missing:
        raise ValueError(f"unknown CelebA attributes {missing}; valid: {', '.join(ds.attr_names[:40])}")
    cols = [ds.attr_names.index(a) for a in attributes]
    count = len(ds) if n is None else min(int(n), len(ds))
    tf = v2.Compose([v2.PILToTensor(), v2.CenterCrop(178), v2.Resize(image_size, antialias=True)])
    images = torch.empty(count, 3, image_size, image_size, dtype=torch.uint8)
    for i in range(count):
        img, _ = ds[i]
        images[i] = tf(img)
    return images, ds.attr[:count][:, cols].to(torch.uint8)


def attribute_task(name: str = "celeba", split: str = "train", root: str | Path | None = None,
                   offline: bool | None = None, image_size: int = 128, n: int | None = None,
                   seed: int = 0) -> AttributeDigits:
    """StarGAN's data: ``"celeba"`` when it can be had (faces with :data:`CELEBA_ATTRIBUTES`),
    else, with one fallback warning line, the digit attribute domains (``n`` digits, 28 px);
    ``"digits"`` asks for the digit domains directly. Returns an :class:`AttributeDigits`
    (for CelebA ``labels`` are zeros and ``grey`` the luminance: faces have no digit class)."""
    if name not in ("celeba", "digits"):
        raise ValueError(f"unknown attribute task {name!r}; valid: celeba, digits")
    if name == "celeba":
        try:
            images, attrs = celeba_attributes(split, root, offline, image_size, n)
        except DatasetUnavailable as err:
            warnings.warn(DatasetFallbackWarning(
                f"celeba is not available ({err}); using the digit attribute domains "
                f"(colour, thickness, slant of real digits) instead."), stacklevel=2)
            out = attribute_digits(split, n=_fallback_n(split, n, root, offline), seed=seed,
                                   root=root, offline=offline)
            return AttributeDigits(out.images, out.attrs, out.labels, out.grey, out.name, split,
                                   requested="celeba", fallback=str(err))
        grey = (0.299 * images[:, :1] + 0.587 * images[:, 1:2] + 0.114 * images[:, 2:])
        return AttributeDigits(images, attrs, torch.zeros(len(images), dtype=torch.long), grey,
                               name="celeba", split=split, attribute_names=CELEBA_ATTRIBUTES)
    return attribute_digits(split, n=_fallback_n(split, n, root, offline), seed=seed, root=root,
                            offline=offline)


def _fallback_n(split: str, n: int | None, root, offline) -> int | None:
    """``n`` capped at the size of the digit split (a CelebA-sized n asks for all digits)."""
    if n is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetFallbackWarning)
        size = len(load("mnist", split=split, root=root, offline=offline, image_size=28))
    return min(int(n), size)
