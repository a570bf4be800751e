"""The official pix2pix and CycleGAN datasets: download, verification, decoding, fallback.

* pix2pix ``facades`` (label map → photo, 400 training pairs) and ``edges2shoes`` (edges → photo,
  49,825 pairs): ``.tar.gz`` archives of 256×512 JPEGs, each the photo and its partner side by
  side. The authors publish **no checksum** for these archives, so the archive's *structure* is
  verified instead: the image count of every split folder must equal the published one, no path
  may leave the dataset folder, and every image must be a 2:1 side-by-side pair (checked when it
  is decoded).
* CycleGAN ``horse2zebra`` (1,067 horses, 1,334 zebras for training): a ``.zip`` whose size
  (116,867,962 bytes) and SHA-256 are the ones TensorFlow Datasets records for the same archive
  (``tensorflow_datasets/url_checksums/cycle_gan.txt``), checked before extraction, plus the
  structure check.

Archives are downloaded into ``<data root>/translation/``, verified, extracted and deleted; the
decoded images are cached as uint8 tensors per split and size. :func:`paired_task` and
:func:`unpaired_task` fall back to the offline tasks with one
:class:`~gancourse.data.DatasetFallbackWarning` line naming both when a set cannot be had.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gancourse import runtime
from gancourse.data.registry import DatasetFallbackWarning, DatasetUnavailable
from gancourse.data.translation.tasks import PairedImages, segments2photos

Tensor = torch.Tensor
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ----------------------------------------------------------------------------- official sets
@dataclass(frozen=True)
class OfficialArchive:
    """One official translation dataset: where it lives and what a good archive holds.

    ``counts`` maps each split folder inside ``folder`` to its published number of images;
    ``sha256``/``size`` are checked when known (None: the structure check alone).
    ``splits`` maps the course's split names to folders; ``kind`` is ``"paired"`` (side-by-side
    A|B images; ``direction`` ``"AtoB"`` or ``"BtoA"``) or ``"unpaired"`` (folders ``<split>A``,
    ``<split>B``).
    """

    name: str
    urls: tuple[str, ...]
    folder: str
    counts: dict[str, int]
    splits: dict[str, str]
    kind: str
    direction: str = "AtoB"
    sha256: str | None = None
    size: int | None = None
    description: str = ""
    fallback: str = ""


OFFICIAL: dict[str, OfficialArchive] = {
    "facades": OfficialArchive(
        "facades", ("http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz",
                    "https://people.eecs.berkeley.edu/~tinghuiz/projects/pix2pix/datasets/facades.tar.gz"),
        folder="facades", counts={"train": 400, "val": 100, "test": 106},
        splits={"train": "train", "test": "test"}, kind="paired", direction="BtoA",
        description="CMP Facades (Tyleček & Šára, 2013): architectural label maps -> photos",
        fallback="segments2photos"),
    "edges2shoes": OfficialArchive(
        "edges2shoes", ("http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/edges2shoes.tar.gz",
                        "https://people.eecs.berkeley.edu/~tinghuiz/projects/pix2pix/datasets/edges2shoes.tar.gz"),
        folder="edges2shoes", counts={"train": 49825, "val": 200},
        splits={"train": "train", "test": "val"}, kind="paired", direction="AtoB",
        description="UT Zappos50K shoes with HED edges (pix2pix): edges -> photos",
        fallback="segments2photos"),
    "horse2zebra": OfficialArchive(
        "horse2zebra", ("http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip",
                        "https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/horse2zebra.zip"),
        folder="horse2zebra", counts={"trainA": 1067, "trainB": 1334, "testA": 120, "testB": 140},
        splits={"train": "train", "test": "test"}, kind="unpaired",
        sha256="a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1", size=116867962,
        description="ImageNet horses (A) and zebras (B), unpaired (CycleGAN)",
        fallback="digit domains (MNIST <-> scikit-learn digits)"),
}


def _fetch_url(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` (written to a ``.part`` file first, then renamed)."""
    part = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as fh:
        shutil.copyfileobj(response, fh, length=1 << 20)
    part.replace(dest)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _members(path: Path) -> list[str]:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    with tarfile.open(path, "r:*") as tf:
        return [m.name for m in tf.getmembers() if m.isfile()]


def verify_archive(spec: OfficialArchive, path: Path) -> None:
    """Check a downloaded archive: size and SHA-256 when known, then its structure (every
    split folder holds the published number of images, no path leaves the folder). Raises
    :class:`DatasetUnavailable` saying what differs."""
    if spec.size is not None and path.stat().st_size != spec.size:
        raise DatasetUnavailable(f"{path.name} has {path.stat().st_size} bytes, expected {spec.size}")
    if spec.sha256 is not None and (got := _sha256(path)) != spec.sha256:
        raise DatasetUnavailable(f"{path.name} has SHA-256 {got}, expected {spec.sha256}")
    try:
        names = _members(path)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise DatasetUnavailable(f"{path.name} is not a readable archive ({err})") from err
    found: dict[str, int] = {}
    for name in names:
        parts = Path(name).parts
        if name.startswith("/") or ".." in parts:
            raise DatasetUnavailable(f"{path.name} holds an unsafe path {name!r}")
        if len(parts) == 3 and parts[0] == spec.folder and name.lower().endswith(IMAGE_SUFFIXES):
            found[parts[1]] = found.get(parts[1], 0) + 1
    wrong = {k: (found.get(k, 0), n) for k, n in spec.counts.items() if found.get(k, 0) != n}
    if wrong:
        detail = ", ".join(f"{spec.folder}/{k}: {got} images, expected {n}" for k, (got, n) in wrong.items())
        raise DatasetUnavailable(f"{path.name} does not have the published structure ({detail})")


def _extract(path: Path, dest: Path) -> None:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            zf.extractall(dest)                      # member paths were checked by verify_archive
        return
    with tarfile.open(path, "r:*") as tf:
        tf.extractall(dest, members=[m for m in tf.getmembers() if m.isfile() or m.isdir()])


def _decode(files: list[Path], image_size: int, halves: bool) -> tuple[Tensor, Tensor] | Tensor:
    """uint8 images (N, 3, S, S); with ``halves`` the left and right halves of 2:1 images."""
    from PIL import Image

    left, right = [], []
    for f in files:
        with Image.open(f) as im:
            im = im.convert("RGB")
            w, h = im.size
            if halves:
                if w != 2 * h:
                    raise DatasetUnavailable(f"{f.name} is {w}x{h}, not a side-by-side pair (2:1)")
                parts = (im.crop((0, 0, h, h)), im.crop((h, 0, w, h)))
            else:
                parts = (im,)
            arrs = [np.asarray(p.resize((image_size, image_size), Image.BICUBIC)) for p in parts]
        left.append(arrs[0])
        if halves:
            right.append(arrs[1])
    to_t = lambda xs: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return (to_t(left), to_t(right)) if halves else to_t(left)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_official(name: str, split: str = "train", root: str | Path | None = None,
                  offline: bool | None = None, image_size: int = 256):
    """An official translation set at ``image_size`` px in [-1, 1], downloaded and verified on
    first use and cached under ``<root>/translation/``.

    Returns :class:`PairedImages` (input → target in the paper's direction) for ``facades`` and
    ``edges2shoes``, and two (N, 3, S, S) tensors (domain A, domain B) for ``horse2zebra``.
    Raises :class:`DatasetUnavailable` when it is not on disk and downloads are forbidden, or
    when every download or the verification fails.
    """
    if name not in OFFICIAL:
        raise ValueError(f"unknown official dataset {name!r}; valid: {', '.join(OFFICIAL)}")
    spec = OFFICIAL[name]
    if split not in spec.splits:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(spec.splits)}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    base = (Path(root).expanduser() if root else runtime.default_data_root()) / "translation"
    cache = base / f"{name}_{split}_{image_size}px.pt"
    if cache.exists():
        tensors = torch.load(cache, weights_only=True)
    else:
        tensors = _build(spec, base, split, runtime.resolve_offline(offline), image_size)
        buf = io.BytesIO()
        torch.save(tensors, buf)
        runtime.atomic_write_bytes(cache, buf.getvalue())
    unit = [t.float().div(127.5).sub(1) for t in tensors]                           # uint8 -> [-1, 1]
    if spec.kind == "unpaired":
        return unit[0], unit[1]
    a, b = unit
    inp, tgt = (a, b) if spec.direction == "AtoB" else (b, a)
    return PairedImages(inp, tgt, name=name, split=split, description=spec.description)


def _build(spec: OfficialArchive, base: Path, split: str, offline: bool, image_size: int):
    folder = base / spec.folder
    if not folder.is_dir():
        archive = base / Path(spec.urls[0]).name
        if not archive.exists():
            if offline:
                raise DatasetUnavailable(f"{spec.name} is not in {base} and downloads are forbidden "
                                         f"(offline=True or GANCOURSE_OFFLINE=1)")
            base.mkdir(parents=True, exist_ok=True)
            errors = []
            for url in spec.urls:
                try:
                    _fetch_url(url, archive)
                    break
                except Exception as err:                    # network errors come in many types
                    errors.append(f"{url}: {type(err).__name__}: {err}")
            else:
                raise DatasetUnavailable(f"downloading {spec.name} failed ({'; '.join(errors)})")
        try:
            verify_archive(spec, archive)
        except DatasetUnavailable:
            archive.unlink(missing_ok=True)                 # never keep an archive that failed
            raise
        _extract(archive, base)
        archive.unlink()
    sub = spec.splits[split]
    if spec.kind == "unpaired":
        return [_decode(_images_in(folder / f"{sub}{d}"), image_size, halves=False) for d in "AB"]
    return list(_decode(_images_in(folder / sub), image_size, halves=True))


def _fallback(spec: OfficialArchive, err: Exception) -> None:
    warnings.warn(DatasetFallbackWarning(f"{spec.name} is not available ({err}); using the offline "
                                         f"task {spec.fallback!r} instead."), stacklevel=3)


def paired_task(name: str, split: str = "train", root: str | Path | None = None,
                offline: bool | None = None, image_size: int = 256, n: int = 2000,
                seed: int = 0, **offline_kw) -> PairedImages:
    """``facades`` or ``edges2shoes`` when it can be had, else the offline label map → photo
    task :func:`segments2photos` (``n`` patches of ``image_size`` px, ``offline_kw`` such as
    ``scale`` and ``n_segments`` passed on) with a one-line fallback warning;
    ``"segments2photos"`` asks for the offline task directly."""
    if name == "segments2photos":
        return segments2photos(split, n=n, size=image_size, seed=seed, **offline_kw)
    spec = OFFICIAL.get(name)
    if spec is None or spec.kind != "paired":
        valid = [k for k, s in OFFICIAL.items() if s.kind == "paired"] + ["segments2photos"]
        raise ValueError(f"unknown paired task {name!r}; valid: {', '.join(valid)}")
    try:
        return load_official(name, split, root, offline, image_size)
    except DatasetUnavailable as err:
        _fallback(spec, err)
        out = segments2photos(split, n=n, size=image_size, seed=seed, **offline_kw)
        out.requested, out.fallback = name, str(err)
        return out


def unpaired_task(name: str = "horse2zebra", split: str = "train", root: str | Path | None = None,
                  offline: bool | None = None, image_size: int = 128) -> tuple[Tensor, Tensor] | None:
    """(domain A, domain B) of an official unpaired set, or None with a one-line fallback warning
    when it cannot be had (the caller's offline task is then :func:`digit_domains`)."""
    spec = OFFICIAL.get(name)
    if spec is None or spec.kind != "unpaired":
        valid = [k for k, s in OFFICIAL.items() if s.kind == "unpaired"]
        raise ValueError(f"unknown unpaired task {name!r}; valid: {', '.join(valid)}")
    try:
        return load_official(name, split, root, offline, image_size)
    except DatasetUnavailable as err:
        _fallback(spec, err)
        return None
