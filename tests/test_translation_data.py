"""Translation datasets: paired tasks keep pairs aligned, unpaired domains, and the official
archives (download with a mocked fetch, checksum and structure checks, the offline fallback)."""

import dataclasses
import hashlib
import io
import tarfile
import urllib.error
import warnings
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gancourse.data import DatasetFallbackWarning, DatasetUnavailable, photos
from gancourse.data import translation as T
from gancourse.data.translation import official
from gancourse.training import Paired


# ----------------------------------------------------------------------------- edges, segments
def test_edges_of_a_square_lie_on_its_border_and_a_blank_image_has_none():
    img = -torch.ones(2, 1, 24, 24)
    img[0, 0, 6:18, 6:18] = 1.0                                        # a white square
    e = T.edges(img, sigma=1.0)
    assert e.shape == (2, 1, 24, 24) and set(e.unique().tolist()) <= {-1.0, 1.0}
    assert (e[1] == -1).all()                                          # nothing to find
    on = e[0, 0] > 0
    assert on.any()
    rows, cols = torch.nonzero(on, as_tuple=True)
    assert rows.min() >= 4 and rows.max() <= 19 and cols.min() >= 4 and cols.max() <= 19
    assert not on[9:15, 9:15].any()                                    # the flat inside has no edge
    with pytest.raises(ValueError, match="sigma must be > 0"):
        T.edges(img, sigma=0)


def test_luminance_uses_the_itu_weights():
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0], x[:, 1], x[:, 2] = 1.0, 0.5, -1.0
    assert torch.allclose(T.luminance(x), torch.full((1, 1, 2, 2), 0.299 + 0.2935 - 0.114))
    assert T.luminance(x[:, :1]) is not None
    with pytest.raises(ValueError, match="1 or 3"):
        T.luminance(torch.zeros(1, 2, 4, 4))


def test_segments_paint_regions_in_their_mean_colour():
    flat = torch.full((1, 3, 16, 16), 0.2)
    assert torch.allclose(T.segments(flat, n_segments=4), flat, atol=1e-5)
    two = -torch.ones(1, 3, 16, 16)
    two[..., 8:] = 0.6                                                 # two flat halves
    assert torch.allclose(T.segments(two, n_segments=8), two, atol=1e-5)   # no region crosses the border
    g = torch.Generator().manual_seed(0)
    noisy = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    seg = T.segments(noisy, n_segments=8)
    for img in seg:                                                    # few distinct colours
        assert len(torch.unique(img.flatten(1), dim=1).T) <= 20
    assert torch.allclose(seg.mean(), noisy.mean(), atol=0.02)         # means are kept
    grey = T.segments(noisy[:, :1], n_segments=8)
    assert grey.shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="n_segments >= 1"):
        T.segments(flat, n_segments=0)


# ----------------------------------------------------------------------------- paired tasks
def test_edges2digits_pairs_each_digit_with_its_own_edges():
    te = T.edges2digits("test", offline=True, dataset="mnist-10k")     # the shipped real digits
    assert te.name == "edges2mnist-10k" and len(te) == 1000
    assert te.input.shape == te.target.shape == (1000, 1, 28, 28)
    assert te.labels.shape == (1000,)
    assert torch.equal(te.input[:5], T.edges(te.target[:5], sigma=1.0))
    paired = te.paired()
    assert isinstance(paired, Paired) and set(paired.tensors) == {"input", "target", "y"}


def test_photo_tasks_train_and_test_on_different_photographs(monkeypatch):
    used = []
    real = photos.patches
    monkeypatch.setattr(T.tasks.photos, "patches",
                        lambda names, *a, **k: used.append(tuple(names)) or real(names, *a, **k))
    tr = T.segments2photos("train", n=6, size=16, n_segments=4)
    te = T.segments2photos("test", n=6, size=16, n_segments=4)
    e = T.edges2photos("test", n=4, size=16, channels=1)
    assert used[0] == photos.COLOUR_TRAIN and used[1] == photos.COLOUR_HELD_OUT
    assert used[2] == photos.COLOUR_HELD_OUT + photos.GREY_HELD_OUT
    assert not set(used[0]) & set(used[1])
    assert tr.input.shape == tr.target.shape == (6, 3, 16, 16) and te.split == "test"
    assert e.input.shape == e.target.shape == (4, 1, 16, 16)
    assert torch.equal(T.segments2photos("train", n=6, size=16, n_segments=4).target, tr.target)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        T.segments2photos("val")
    with pytest.raises(ValueError, match="channels must be 1"):
        T.edges2photos(channels=2)


def test_paired_images_checks_and_takes():
    x = torch.randn(5, 1, 8, 8)
    p = T.PairedImages(x, -x, name="toy", split="train", labels=torch.arange(5))
    a, b, y = p.take(3, seed=1)
    assert torch.equal(b, -a) and torch.equal(p.take(3, seed=1)[2], y)
    assert "PairedImages('toy'" in repr(p)
    with pytest.raises(ValueError, match="must match in number and size"):
        T.PairedImages(x, x[:4], name="t", split="train")
    with pytest.raises(ValueError, match="4 labels for 5 pairs"):
        T.PairedImages(x, x, name="t", split="train", labels=torch.arange(4))
    with pytest.raises(ValueError, match="asked for 6 pairs"):
        p.take(6)


def test_paired_jitter_keeps_pairs_aligned():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 12, 12, generator=g)
    y = 1 - x[:, :1]                                                   # a pixelwise partner
    jx, jy = T.paired_jitter(x, y, generator=torch.Generator().manual_seed(1), pad=2, flip=True)
    assert jx.shape == x.shape and jy.shape == y.shape
    assert torch.allclose(jy, 1 - jx[:, :1], atol=1e-6)                # the same crop and mirror
    assert not torch.allclose(jx, x)
    again = T.paired_jitter(x, y, generator=torch.Generator().manual_seed(1), pad=2, flip=True)
    assert torch.equal(again[0], jx)                                   # reproducible
    same = T.paired_jitter(x, generator=torch.Generator().manual_seed(2), pad=0, flip=False)[0]
    assert torch.equal(same, x)                                        # nothing to do
    mirrored = T.paired_jitter(x, generator=torch.Generator().manual_seed(3), pad=0, flip=True)[0]
    flipped = [torch.equal(m, xi.flip(-1)) for m, xi in zip(mirrored, x)]
    kept = [torch.equal(m, xi) for m, xi in zip(mirrored, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < 16
    with pytest.raises(ValueError, match="same B, H, W"):
        T.paired_jitter(x, y[:3])
    with pytest.raises(ValueError, match="at least one tensor"):
        T.paired_jitter()


def test_digit_domains_are_real_mnist_and_the_scikit_learn_digits():
    a, b = T.digit_domains("test", offline=True)
    assert a.name in ("mnist", "mnist-10k") and b.name == "digits"   # full MNIST when it is on disk
    assert a.images.shape[1:] == b.images.shape[1:] == (1, 28, 28)
    assert a.num_classes == b.num_classes == 10


def test_rescan_8x8_renders_like_the_scikit_learn_scanner():
    blank = -torch.ones(2, 1, 28, 28)
    assert torch.allclose(T.rescan_8x8(blank), blank)
    square = -torch.ones(1, 1, 28, 28)
    square[..., 3:13, 5:15] = 1.0                                      # a 10x10 ink square, off-centre
    out = T.rescan_8x8(square)
    assert out.shape == (1, 1, 28, 28)
    assert (out[..., 4:24, 4:24] > 0.9).all() and (out[..., :4, :] == -1).all()   # fills the 20 px box
    shifted = torch.roll(square, shifts=(9, 7), dims=(-2, -1))
    assert torch.allclose(T.rescan_8x8(shifted), out)                  # position does not matter
    te = T.edges2digits("test", offline=True, dataset="mnist-10k").target[:4]
    r = T.rescan_8x8(te)
    assert r.shape == te.shape and r.min() >= -1 and r.max() <= 1
    with pytest.raises(ValueError, match="\\(N, 1, 28, 28\\) digits"):
        T.rescan_8x8(torch.zeros(1, 3, 28, 28))


# ----------------------------------------------------------------------------- official sets
def _jpeg(w, h, colour):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _pair_jpeg():
    img = Image.new("RGB", (16, 8), (250, 0, 0))                      # A (left) red
    img.paste((0, 0, 250), (8, 0, 16, 8))                              # B (right) blue
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _tar(counts, folder="facades", extra=()):
    buf = io.BytesIO()
    data = _pair_jpeg()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for split, n in counts.items():
            for i in range(n):
                info = tarfile.TarInfo(f"{folder}/{split}/{i + 1}.jpg")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        for name in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(counts):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for folder, n in counts.items():
            colour = (250, 250, 250) if folder.endswith("A") else (10, 10, 10)
            for i in range(n):
                zf.writestr(f"horse2zebra/{folder}/{i}.jpg", _jpeg(8, 8, colour))
    return buf.getvalue()


@pytest.fixture
def fake_server(monkeypatch):
    """Replace the network: ``serve[url_suffix] = bytes``; every fetch is logged."""
    served, calls = {}, []

    def fetch(url, dest, timeout=60.0):
        calls.append(url)
        for suffix, blob in served.items():
            if url.endswith(suffix):
                dest.write_bytes(blob)
                return
        raise urllib.error.URLError("no route to host (mocked)")

    monkeypatch.setattr(official, "_fetch_url", fetch)
    return served, calls


def test_facades_downloads_verifies_structure_decodes_pairs_and_caches(tmp_path, fake_server):
    served, calls = fake_server
    served["facades.tar.gz"] = _tar(T.OFFICIAL["facades"].counts)
    p = T.load_official("facades", "train", root=tmp_path, offline=False, image_size=8)
    assert isinstance(p, T.PairedImages) and len(p) == 400 and p.input.shape == (400, 3, 8, 8)
    # facades runs BtoA: the label map (right half, blue) is the input, the photo (red) the target
    assert p.input[:, 2].mean() > 0.8 and p.input[:, 0].mean() < -0.8
    assert p.target[:, 0].mean() > 0.8 and p.target[:, 2].mean() < -0.8
    assert calls == [T.OFFICIAL["facades"].urls[0]]
    assert not (tmp_path / "translation" / "facades.tar.gz").exists()   # archive removed after extraction
    test = T.load_official("facades", "test", root=tmp_path, offline=True, image_size=8)
    assert len(test) == 106 and len(calls) == 1                        # extracted folder reused offline
    again = T.load_official("facades", "train", root=tmp_path, offline=True, image_size=8)
    assert torch.equal(again.input, p.input)                           # from the tensor cache


def test_a_wrong_structure_is_refused_and_the_task_falls_back_in_one_line(tmp_path, fake_server):
    served, calls = fake_server
    served["facades.tar.gz"] = _tar({"train": 399, "val": 100, "test": 106})
    with pytest.raises(DatasetUnavailable, match="facades/train: 399 images, expected 400"):
        T.load_official("facades", root=tmp_path, offline=False, image_size=8)
    assert not (tmp_path / "translation" / "facades.tar.gz").exists()   # a bad archive is not kept
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = T.paired_task("facades", "train", root=tmp_path, offline=False, image_size=16, n=4)
    fallbacks = [w for w in caught if issubclass(w.category, DatasetFallbackWarning)]
    assert len(fallbacks) == 1 and "\n" not in str(fallbacks[0].message)
    assert "using the offline task 'segments2photos'" in str(fallbacks[0].message)
    assert task.name == "segments2photos" and task.requested == "facades" and "399" in task.fallback


def test_unsafe_archive_paths_are_refused(tmp_path, fake_server):
    served, _ = fake_server
    served["facades.tar.gz"] = _tar(T.OFFICIAL["facades"].counts, extra=("../evil.jpg",))
    with pytest.raises(DatasetUnavailable, match="unsafe path"):
        T.load_official("facades", root=tmp_path, offline=False, image_size=8)


def test_offline_and_failed_downloads_fall_back(tmp_path, fake_server):
    _, calls = fake_server
    with pytest.raises(DatasetUnavailable, match="downloads are forbidden"):
        T.load_official("horse2zebra", root=tmp_path, offline=True, image_size=8)
    assert calls == []                                                 # offline: no network at all
    with pytest.raises(DatasetUnavailable, match="downloading horse2zebra failed .*URLError"):
        T.load_official("horse2zebra", root=tmp_path, offline=False, image_size=8)
    assert calls == list(T.OFFICIAL["horse2zebra"].urls)               # every mirror was tried
    with pytest.warns(DatasetFallbackWarning, match="horse2zebra is not available"):
        assert T.unpaired_task("horse2zebra", root=tmp_path, offline=True, image_size=8) is None
    with pytest.warns(DatasetFallbackWarning, match="edges2shoes is not available"):
        out = T.paired_task("edges2shoes", "test", root=tmp_path, offline=True, image_size=16, n=3)
    assert out.split == "test" and out.input.shape == (3, 3, 16, 16)


def test_horse2zebra_checks_the_published_sha256_then_loads_both_domains(tmp_path, fake_server, monkeypatch):
    served, _ = fake_server
    counts = T.OFFICIAL["horse2zebra"].counts
    blob = _zip({k: 2 for k in counts})                               # a small archive
    served["horse2zebra.zip"] = blob
    with pytest.raises(DatasetUnavailable, match=f"has {len(blob)} bytes, expected 116867962"):
        T.load_official("horse2zebra", root=tmp_path, offline=False, image_size=8)
    fake = dataclasses.replace(T.OFFICIAL["horse2zebra"], size=len(blob), sha256="0" * 64,
                               counts={k: 2 for k in counts})
    monkeypatch.setitem(T.OFFICIAL, "horse2zebra", fake)
    with pytest.raises(DatasetUnavailable, match="SHA-256 .* expected 0000"):
        T.load_official("horse2zebra", root=tmp_path, offline=False, image_size=8)
    good = dataclasses.replace(fake, sha256=hashlib.sha256(blob).hexdigest())
    monkeypatch.setitem(T.OFFICIAL, "horse2zebra", good)
    a, b = T.load_official("horse2zebra", "train", root=tmp_path, offline=False, image_size=8)
    assert a.shape == b.shape == (2, 3, 8, 8)
    assert a.mean() > 0.9 and b.mean() < -0.9                         # horses white, zebras black here
    pair = T.unpaired_task("horse2zebra", "test", root=tmp_path, offline=True, image_size=8)
    assert pair[0].shape == (2, 3, 8, 8)


def test_official_argument_errors():
    with pytest.raises(ValueError, match="unknown official dataset 'maps'"):
        T.load_official("maps")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        T.load_official("facades", split="val")
    with pytest.raises(ValueError, match="unknown paired task 'horse2zebra'"):
        T.paired_task("horse2zebra")
    with pytest.raises(ValueError, match="unknown unpaired task 'facades'"):
        T.unpaired_task("facades")


def test_published_counts_and_checksum_are_recorded():
    assert T.OFFICIAL["facades"].counts == {"train": 400, "val": 100, "test": 106}
    assert T.OFFICIAL["facades"].direction == "BtoA" and T.OFFICIAL["edges2shoes"].direction == "AtoB"
    h2z = T.OFFICIAL["horse2zebra"]
    assert h2z.size == 116867962 and len(h2z.sha256) == 64
    assert all(u.startswith("http") and "berkeley.edu" in u for s in T.OFFICIAL.values() for u in s.urls)
    assert np.all([s.fallback for s in T.OFFICIAL.values()])
