import warnings

import pytest
import torch

from gancourse import data
from gancourse.data import mnist10k
from gancourse.data.registry import DatasetSpec


def test_digits_standin_shapes_range_and_split():
    train = data.load("digits", split="train")
    test = data.load("digits", split="test")
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.float32
    assert train.images.min() >= -1 and train.images.max() <= 1
    assert len(train) + len(test) == 1797 and 300 < len(test) < 400
    assert sorted(train.labels.unique().tolist()) == list(range(10))
    assert train.num_classes == 10 and train.name == "digits" and train.fallback is None
    # a margin like MNIST's: the outer 3 pixels are background
    assert (train.images[:, :, :3, :] == -1).all()
    # held-out images are not in the training split
    tr = {tuple(x.flatten().tolist()) for x in train.images[:, :, ::4, ::4]}
    overlap = sum(tuple(x.flatten().tolist()) in tr for x in test.images[:, :, ::4, ::4])
    assert overlap < 0.05 * len(test)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_image_sizes(size):
    ds = data.load("digits", image_size=size)
    assert ds.image_size == size and ds.images.shape[-2:] == (size, size)


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="valid sizes are 28, 32, 64"):
        data.load("digits", image_size=30)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="valid datasets are .*digits.*mnist"):
        data.load("imagenet")


def test_unknown_split():
    with pytest.raises(ValueError, match="valid splits are train, test"):
        data.load("digits", split="validation")


def test_offline_mnist_is_the_shipped_real_digits_with_a_visible_warning(tmp_path):
    with pytest.warns(data.DatasetFallbackWarning, match="mnist is not available.*'mnist-10k'.*real MNIST"):
        ds = data.load("mnist", root=tmp_path, offline=True)
    assert ds.name == "mnist-10k" and ds.requested == "mnist" and "forbidden" in ds.fallback
    assert "fell back from 'mnist'" in repr(ds) and "mnist-10k" in repr(ds)
    assert ds.images.shape == (9000, 1, 28, 28)


def test_mnist10k_split_is_fixed_stratified_and_disjoint():
    train, test = data.load("mnist-10k"), data.load("mnist-10k", split="test")
    assert (len(train), len(test)) == (9000, 1000)
    assert train.fallback is None and train.name == "mnist-10k"
    # 10 % of each class held out: the official test set has 980, 1135, ..., 1009 per class
    assert test.labels.bincount().tolist() == [98, 114, 103, 101, 98, 89, 96, 103, 97, 101]
    raw, labels = mnist10k.read_raw()
    assert raw.dtype == torch.uint8 and raw.shape == (10000, 1, 28, 28)
    assert (train.labels.bincount() + test.labels.bincount()).tolist() == labels.bincount().tolist()
    # real digits: mostly background with ink in the middle, like MNIST (mean pixel ~ 33/255)
    assert abs(raw.float().mean().item() - 33.3) < 1.0
    assert torch.equal(data.load("mnist-10k", split="test").images, test.images)   # same every load
    flat = lambda x: {bytes(row.numpy().tobytes()) for row in x.flatten(1)}          # noqa: E731
    assert not flat(train.images[:2000]) & flat(test.images)                         # no overlap


def test_mnist10k_checks_md5_and_names_the_problem(tmp_path):
    import shutil

    src = mnist10k.shipped_dir()
    for name in mnist10k.FILES:
        shutil.copy(src / name, tmp_path / name)
    assert mnist10k.read_raw(tmp_path)[0].shape[0] == 10000
    corrupt = tmp_path / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(corrupt.read_bytes()[:-10])
    with pytest.raises(mnist10k.ShippedDataError, match="labels.*does not match its MD5.*git checkout"):
        mnist10k.read_raw(tmp_path)
    corrupt.unlink()
    with pytest.raises(mnist10k.ShippedDataError, match="labels-idx1-ubyte.gz is missing"):
        mnist10k.read_raw(tmp_path)


def test_full_mnist_on_disk_wins_over_the_shipped_digits(tmp_path):
    """A full MNIST in torchvision's layout is used when present (no warning, name 'mnist')."""
    _write_fake_mnist(tmp_path, n=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", data.DatasetFallbackWarning)
        ds = data.load("mnist", root=tmp_path, offline=True)
    assert ds.name == "mnist" and len(ds) == 5


def test_offline_with_no_standin_raises(tmp_path):
    def fetch(root, split, download):
        raise RuntimeError("Dataset not found")

    data.register(DatasetSpec("nostandin", 28, 1, fetch=fetch, standin=None))
    try:
        with pytest.raises(data.DatasetUnavailable, match="no offline stand-in"):
            data.load("nostandin", root=tmp_path, offline=True)
    finally:
        data.unregister("nostandin")


def test_failed_download_falls_back(tmp_path):
    calls = []

    def fetch(root, split, download):
        calls.append(download)
        if download:
            raise ConnectionError("network unreachable")
        raise RuntimeError("Dataset not found")

    data.register(DatasetSpec("flaky", 28, 1, fetch=fetch, standin="digits"))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = data.load("flaky", root=tmp_path, offline=False)
        assert calls == [False, True]
        assert ds.name == "digits" and "ConnectionError" in ds.fallback
        assert any("flaky" in str(w.message) and "digits" in str(w.message) for w in caught)
    finally:
        data.unregister("flaky")


def _write_fake_mnist(root, n=5):
    """MNIST in torchvision's raw layout: the uncompressed idx files it reads."""
    import struct

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3, 1, 4, 1, 5] * (n // 5 + 1), dtype=torch.uint8)[:n]
    for prefix in ("train", "t10k"):
        header = struct.pack(">IIII", 2051, n, 28, 28)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + imgs.numpy().tobytes())
        label_header = struct.pack(">II", 2049, n)
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(label_header + labels.numpy().tobytes())
    return imgs, labels


def test_torchvision_loader_reads_files_on_disk(tmp_path):
    """MNIST in torchvision's raw format on disk loads without any download."""
    imgs, _ = _write_fake_mnist(tmp_path, n=5)
    ds = data.load("mnist", root=tmp_path, offline=True, fallback=False, image_size=32)
    assert ds.name == "mnist" and ds.images.shape == (5, 1, 32, 32)
    assert ds.labels.tolist() == [3, 1, 4, 1, 5]
    exact = data.load("mnist", root=tmp_path, offline=True, fallback=False)
    assert torch.allclose(exact.images[0, 0], imgs[0].float() / 255 * 2 - 1)


def test_shapes_standin_and_cifar_fallback(tmp_path):
    with pytest.warns(data.DatasetFallbackWarning, match="cifar10.*'shapes'"):
        ds = data.load("cifar10", split="test", root=tmp_path, offline=True)
    assert ds.name == "shapes" and ds.images.shape[1:] == (3, 32, 32)
    assert ds.images.std() > 0.3 and ds.num_classes == 6


def test_loader_batches_and_pinning():
    ds = data.load("digits")
    batches = data.loader(ds, batch_size=100, seed=0)
    x, y = next(iter(batches))
    assert x.shape == (100, 1, 28, 28) and y.shape == (100,)
    assert len(batches) == len(ds) // 100
    assert not batches.pin_memory
    assert data.loader(ds, 10, device="cuda").pin_memory
    with pytest.raises(ValueError, match="exceeds"):
        data.loader(ds, 10_000)


def test_take_is_reproducible():
    ds = data.load("digits", split="test")
    a, _ = ds.take(10, seed=1)
    b, _ = ds.take(10, seed=1)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="has"):
        ds.take(10_000)


def test_toy_mixtures_at_paper_scales():
    ring, grid = data.ring8(), data.grid25()
    assert ring.centers.shape == (8, 2) and grid.centers.shape == (25, 2)
    assert torch.allclose(ring.centers.norm(dim=1), torch.ones(8))
    assert ring.sigma == pytest.approx(0.01) and grid.sigma == pytest.approx(0.05)
    assert sorted(grid.centers[:, 0].unique().tolist()) == [-4, -2, 0, 2, 4]
    wg = data.grid25(scale="wgan-gp")
    assert wg.centers.abs().max() == pytest.approx(4 / 2.828427, rel=1e-5)
    x, comp = grid.sample(5000, seed=0, return_labels=True)
    dist = (x - grid.centers[comp]).norm(dim=1)
    assert (dist < 3 * 0.05 * 1.5).float().mean() > 0.99
    assert torch.equal(grid.sample(10, seed=1), grid.sample(10, seed=1))
    with pytest.raises(ValueError, match="valid scales"):
        data.ring8(scale="big")


def test_mixture_density_integrates_to_one():
    mix = data.gaussian_mixture_1d([-2.0, 1.0], [0.5, 1.0], [0.3, 0.7])
    x = torch.linspace(-10, 10, 20001)
    mass = torch.trapezoid(mix.prob(x), x)
    assert mass == pytest.approx(1.0, abs=1e-4)
    samples = mix.sample(20000, seed=0)
    assert samples.mean().item() == pytest.approx(0.3 * -2 + 0.7 * 1, abs=0.05)


def test_other_toys():
    lines = data.toy("parallel_lines", theta=0.5).sample(100, seed=0)
    assert torch.all(lines[:, 0] == 0.5) and lines[:, 1].min() >= 0 and lines[:, 1].max() <= 1
    with pytest.raises(NotImplementedError, match="no density"):
        data.toy("parallel_lines").log_prob(lines)
    assert data.toy("swiss_roll").sample(50, seed=0).shape == (50, 2)
    assert data.toy("moons").sample(50, seed=0).shape == (50, 2)
    assert data.toy("mixture1d").sample(7, seed=0).shape == (7, 1)
    with pytest.raises(ValueError, match="valid names are"):
        data.toy("spiral")
    with pytest.raises(ValueError, match="positive"):
        data.GaussianMixture([[0.0, 0.0]], 0.0)


def test_bundled_photos_split_and_patches():
    from gancourse.data import photos

    assert not set(photos.COLOUR_TRAIN) & set(photos.COLOUR_HELD_OUT)
    assert not set(photos.GREY_TRAIN) & set(photos.GREY_HELD_OUT)
    x = photos.photo("astronaut")
    assert x.shape == (3, 512, 512) and x.min() >= -1 and x.max() <= 1 and x.std() > 0.2
    assert photos.photo("camera").shape == (1, 512, 512)
    assert photos.photo("camera", channels=3).shape == (3, 512, 512)
    grey = photos.photo("astronaut", channels=1)
    assert grey.shape == (1, 512, 512) and torch.allclose(grey.mean(), x.mean(0).mean(), atol=0.1)
    p = photos.patches(photos.COLOUR_TRAIN, n=20, size=32, seed=1)
    assert p.shape == (20, 3, 32, 32) and torch.equal(p, photos.patches(photos.COLOUR_TRAIN, 20, 32, seed=1))
    assert not torch.equal(p, photos.patches(photos.COLOUR_TRAIN, 20, 32, seed=2))
    assert photos.patches(["coins"], 3, 16, channels=1, scale=0.5).shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="unknown photo 'cat'"):
        photos.photo("cat")
    with pytest.raises(ValueError, match="smaller than"):
        photos.patches(["coins"], 1, 400)
