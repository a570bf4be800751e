"""Tests for gancourse.metrics: Fréchet distance, class metrics, judge classifier, toy modes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from gancourse import data, metrics
from gancourse.metrics import classifier as clf_module


# ----------------------------------------------------------------------------- helpers
def whitened(n: int, d: int, seed: int) -> np.ndarray:
    """(n, d) samples with mean exactly 0 and unbiased sample covariance exactly I."""
    z = np.random.default_rng(seed).normal(size=(n, d))
    z -= z.mean(0)
    chol = np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))
    return z @ np.linalg.inv(chol).T


# ----------------------------------------------------------------------------- Fréchet distance
def test_fd_identical_sets_is_zero():
    a = np.random.default_rng(0).normal(size=(300, 8))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fd_shifted_sets_is_squared_mean_difference():
    a = np.random.default_rng(1).normal(size=(400, 5))
    delta = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert metrics.frechet_distance(a, a + delta) == pytest.approx(delta @ delta, rel=1e-6)


def test_fd_diagonal_covariances_by_hand():
    # S_a = diag(1, 4), S_b = diag(4, 1): Tr = (1 + 4 - 2*2) + (4 + 1 - 2*2) = 2; mean shift 3^2.
    a = whitened(500, 2, seed=2) * np.array([1.0, 2.0])
    b = whitened(700, 2, seed=3) * np.array([2.0, 1.0]) + np.array([3.0, 0.0])
    assert metrics.frechet_distance(a, b) == pytest.approx(9.0 + 2.0, rel=1e-6)


def test_fd_full_covariance_by_hand():
    # S_a = I, S_b = [[2, 1], [1, 2]] (eigenvalues 3, 1): FD = (1 - sqrt 3)^2 + (1 - 1)^2.
    a = whitened(400, 2, seed=4)
    b = whitened(400, 2, seed=5) @ np.linalg.cholesky(np.array([[2.0, 1.0], [1.0, 2.0]])).T
    assert metrics.frechet_distance(a, b) == pytest.approx((1 - math.sqrt(3)) ** 2, rel=1e-6)


def test_fd_one_dimensional_is_mean_and_std_gap():
    a = whitened(200, 1, seed=6) * 2.0 + 1.0       # mean 1, std 2
    b = whitened(300, 1, seed=7) * 0.5 - 1.0       # mean -1, std 0.5
    assert metrics.frechet_distance(a, b) == pytest.approx(2.0**2 + 1.5**2, rel=1e-6)


def test_fd_is_symmetric_nonnegative_and_takes_tensors():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(150, 6)), rng.normal(size=(90, 6)) * 1.5 + 0.3
    ab, ba = metrics.frechet_distance(a, b), metrics.frechet_distance(b, a)
    assert ab == pytest.approx(ba, rel=1e-8) and ab > 0
    assert metrics.frechet_distance(torch.from_numpy(a).float(), b) == pytest.approx(ab, rel=1e-4)


def test_fd_singular_covariances_stay_finite():
    rng = np.random.default_rng(9)
    few = rng.normal(size=(5, 20))                  # rank-4 covariance in 20-D
    fd = metrics.frechet_distance(few, rng.normal(size=(6, 20)))
    assert math.isfinite(fd) and fd >= 0
    # a collapsed generator: every sample the same point -> zero covariance
    point = np.tile(rng.normal(size=(1, 4)), (10, 1))
    ref = whitened(200, 4, seed=10)
    assert metrics.frechet_distance(point, ref) == pytest.approx(
        float(point[0] @ point[0]) + 4.0, rel=1e-4)   # ||mu||^2 + Tr(I)


@pytest.mark.parametrize(("a", "b", "match"), [
    (np.zeros((10, 3)), np.zeros((10, 4)), "dimension"),
    (np.zeros(10), np.zeros(10), "2-D"),
    (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
    (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
])
def test_fd_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        metrics.frechet_distance(a, b)


# ----------------------------------------------------------------------------- class metrics
PROBS = np.array([
    [0.95, 0.05, 0.00, 0.00],   # class 0, confident
    [0.05, 0.90, 0.05, 0.00],   # class 1, confident (threshold is inclusive)
    [0.00, 0.20, 0.80, 0.00],   # class 2, not confident
    [0.60, 0.40, 0.00, 0.00],   # class 0, not confident
    [0.97, 0.01, 0.01, 0.01],   # class 0, confident
])


def test_class_metrics_on_hand_built_probabilities():
    assert metrics.confident_share(PROBS) == pytest.approx(3 / 5)
    assert metrics.confident_share(PROBS, threshold=0.5) == pytest.approx(1.0)
    np.testing.assert_allclose(metrics.class_histogram(PROBS), [0.6, 0.2, 0.2, 0.0])
    assert metrics.class_coverage(PROBS) == 3            # default 0.4 / K = 0.1
    assert metrics.class_coverage(PROBS, min_share=0.25) == 1
    assert metrics.histogram_entropy(PROBS) == pytest.approx(
        -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2)))
    assert metrics.conditional_accuracy(PROBS, np.array([0, 1, 1, 0, 3])) == pytest.approx(3 / 5)
    assert metrics.conditional_accuracy(torch.tensor(PROBS), torch.tensor([0, 1, 2, 0, 0])) == 1.0


def test_entropy_and_coverage_extremes():
    uniform_classes = np.eye(10)[np.arange(50) % 10]          # every class 5 times
    assert metrics.histogram_entropy(uniform_classes) == pytest.approx(math.log(10))
    assert metrics.class_coverage(uniform_classes) == 10
    one_class = np.eye(10)[np.zeros(50, dtype=int)]
    assert metrics.histogram_entropy(one_class) == 0.0
    assert metrics.class_coverage(one_class) == 1


@pytest.mark.parametrize(("call", "match"), [
    (lambda: metrics.confident_share(np.array([[2.0, -1.0]])), "softmax"),
    (lambda: metrics.confident_share(PROBS, threshold=0.0), "threshold"),
    (lambda: metrics.class_coverage(PROBS, min_share=1.5), "min_share"),
    (lambda: metrics.class_histogram(np.array([0.5, 0.5])), "2-D"),
    (lambda: metrics.conditional_accuracy(PROBS, np.array([0, 1])), "shape"),
    (lambda: metrics.conditional_accuracy(PROBS, np.array([0, 1, 2, 3, 4])), r"\[0, 3\]"),
    (lambda: metrics.conditional_accuracy(PROBS, np.zeros(5)), "integers"),
])
def test_class_metrics_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- classifier
@pytest.fixture(scope="module")
def digits() -> tuple[data.ImageDataset, data.ImageDataset]:
    return data.load("digits", split="train"), data.load("digits", split="test")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data_root")


@pytest.fixture(scope="module")
def judge(cache_root) -> metrics.Classifier:
    """The digits judge, trained once for the whole module (about 8 s of CPU)."""
    return metrics.get_classifier("digits", root=cache_root, progress=False)


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train_classifier was called although a valid cache exists")

    monkeypatch.setattr(clf_module, "train_classifier", refuse)


@pytest.fixture
def fast_training(monkeypatch):
    """Replace training by an untrained model; record the calls."""
    calls = []

    def untrained(images, labels, num_classes, **kwargs):
        calls.append(len(images))
        return metrics.Classifier(images.shape[1], num_classes, image_size=images.shape[-1]).eval()

    monkeypatch.setattr(clf_module, "train_classifier", untrained)
    return calls


@pytest.mark.parametrize(("channels", "size"), [(1, 28), (1, 32), (3, 64)])
def test_classifier_shapes(channels, size):
    model = metrics.Classifier(channels, num_classes=7).eval()
    x = torch.rand(5, channels, size, size) * 2 - 1
    assert model.features(x).shape == (5, 128)
    assert model(x).shape == (5, 7)
    feats, probs = model.predict(x, batch_size=2)
    assert feats.shape == (5, 128) and probs.shape == (5, 7)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    torch.testing.assert_close(probs, torch.softmax(model(x), 1))
    model.train()
    model.predict(x)
    assert model.training                              # predict restores the mode
    feats, probs = model.predict(x[:0])                # an empty batch gives empty results
    assert feats.shape == (0, 128) and probs.shape == (0, 7)


def test_judge_reaches_held_out_accuracy(judge, digits):
    _, test = digits
    assert judge.info["dataset"] == "digits" and judge.info["image_size"] == 28
    assert judge.info["accuracy"] >= 0.95
    acc = metrics.accuracy(judge, test.images, test.labels)
    assert acc == pytest.approx(judge.info["accuracy"])


def test_real_vs_real_is_sane_and_beats_noise(judge, digits):
    _, test = digits
    good = metrics.real_vs_real("digits", judge)
    assert good["n"] == len(test) // 2
    assert good["confident_share"] >= 0.8 and good["class_coverage"] == 10
    assert good["cond_accuracy"] >= 0.95 and good["entropy"] > 0.95 * math.log(10)
    assert metrics.real_vs_real(test, judge, seed=0) == good          # a dataset object works too

    real = test.images[:100]
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = metrics.evaluate_images(noise, judge, real=real)
    assert bad["fd"] > 10 * good["fd"]
    assert bad["confident_share"] < 0.2
    assert set(bad) == {"fd", "confident_share", "class_coverage", "entropy"}


def test_single_repeated_class_is_caught(judge, digits):
    train, test = digits
    threes = train.images[train.labels == 3][:60]
    out = metrics.evaluate_images(threes, judge, real=test.images[:60],
                                  labels=torch.full((60,), 3))
    assert out["class_coverage"] == 1 and out["entropy"] < 0.2
    assert out["cond_accuracy"] >= 0.9
    assert out["fd"] > 10 * metrics.real_vs_real(test, judge, n=60)["fd"]


@pytest.mark.parametrize(("images", "match"), [
    (torch.zeros(4, 3, 28, 28), "takes"),
    (torch.zeros(4, 1, 32, 32), "takes"),
    (torch.full((4, 1, 28, 28), 255.0), r"\[-1, 1\]"),
    (torch.zeros(0, 1, 28, 28), "non-empty"),
    (torch.zeros(1, 28, 28), "non-empty"),
])
def test_evaluate_images_rejects_bad_images(judge, images, match):
    with pytest.raises(ValueError, match=match):
        metrics.evaluate_images(images, judge)


def test_real_vs_real_rejects_too_large_n(judge, digits):
    with pytest.raises(ValueError, match="n must lie in"):
        metrics.real_vs_real(digits[1], judge, n=len(digits[1]))


def test_cache_round_trip_loads_without_training(judge, cache_root, no_training):
    again = metrics.get_classifier("digits", root=cache_root, progress=False)
    assert again.info["path"] == judge.info["path"]
    assert again.info["accuracy"] == judge.info["accuracy"]
    for p, q in zip(judge.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(p, q)


def test_fallback_is_cached_under_the_dataset_actually_loaded(tmp_path, fast_training):
    with pytest.warns(data.DatasetFallbackWarning, match="mnist-10k"):
        model = metrics.get_classifier("mnist", root=tmp_path, offline=True, progress=False)
    assert fast_training == [9000]                              # the shipped digits' train split
    assert model.info["dataset"] == "mnist-10k" and model.info["requested"] == "mnist"
    assert model.info["path"] == str(tmp_path / "classifiers" / "mnist-10k_28px.pt")
    assert not (tmp_path / "classifiers" / "mnist_28px.pt").exists()
    with pytest.warns(data.DatasetFallbackWarning):             # the second call reads the cache
        again = metrics.get_classifier("mnist", root=tmp_path, offline=True, progress=False)
    assert fast_training == [9000] and again.info["path"] == model.info["path"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "mismatched"])
def test_bad_cache_is_retrained_with_a_warning(judge, cache_root, tmp_path, fast_training, damage):
    path = tmp_path / "classifiers" / "digits_28px.pt"
    path.parent.mkdir()
    good = (cache_root / "classifiers" / "digits_28px.pt").read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    else:
        ckpt = torch.load(cache_root / "classifiers" / "digits_28px.pt", weights_only=True)
        ckpt["info"]["image_size"] = 64
        torch.save(ckpt, path)
    with pytest.warns(UserWarning, match="digits_28px.pt"):
        metrics.get_classifier("digits", root=tmp_path, progress=False)
    assert len(fast_training) == 1
    with warnings.catch_warnings():                 # the rewritten cache is valid now
        warnings.simplefilter("error")
        metrics.get_classifier("digits", root=tmp_path, progress=False)
    assert len(fast_training) == 1


def test_retrain_ignores_a_valid_cache(judge, cache_root, tmp_path, fast_training):
    (tmp_path / "classifiers").mkdir()
    (tmp_path / "classifiers" / "digits_28px.pt").write_bytes(
        (cache_root / "classifiers" / "digits_28px.pt").read_bytes())
    model = metrics.get_classifier("digits", root=tmp_path, progress=False, retrain=True)
    assert fast_training == [len(data.load("digits", split="train"))]
    assert model.info["accuracy"] < 0.5                         # the untrained stand-in model


def test_unsupported_dataset_lists_valid_ones():
    with pytest.raises(ValueError, match="supported datasets are mnist, mnist-10k, digits, fashion_mnist"):
        metrics.get_classifier("cifar10")


def test_train_classifier_is_seeded_and_leaves_global_rng_alone(digits):
    train, _ = digits
    x, y = train.images[:64], train.labels[:64]
    state = torch.random.get_rng_state()
    a = metrics.train_classifier(x, y, 10, epochs=1, batch_size=32, progress=False, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = metrics.train_classifier(x, y, 10, epochs=1, batch_size=32, progress=True, seed=3)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(p, q)
    assert not a.training and a.image_size == 28


@pytest.mark.parametrize(("images", "labels", "kwargs", "match"), [
    (torch.zeros(4, 28, 28), torch.zeros(4, dtype=torch.long), {}, "float tensor"),
    (torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long), {}, "shape"),
    (torch.zeros(4, 1, 28, 28), torch.tensor([0, 1, 2, 10]), {}, r"\[0, 9\]"),
    (torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long), {"epochs": 0}, "epochs"),
])
def test_train_classifier_rejects_bad_input(images, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.train_classifier(images, labels, 10, progress=False, **kwargs)


# ----------------------------------------------------------------------------- toy modes
GRID = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=float)
SIGMA = 0.05


def test_samples_at_the_centres_cover_everything():
    out = metrics.mode_metrics(np.repeat(GRID, 4, axis=0), GRID, SIGMA)
    assert out["modes_covered"] == 25 and out["num_modes"] == 25
    assert out["hq_share"] == 1.0 and out["mode_counts"] == [4] * 25
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_all_samples_on_one_centre_is_full_collapse():
    samples = torch.tensor(GRID[7]).repeat(100, 1) + 0.01           # a torch tensor works too
    out = metrics.mode_metrics(samples, GRID, SIGMA)
    assert out["modes_covered"] == 1 and out["hq_share"] == 1.0
    assert out["mode_counts"][7] == 100 and sum(out["mode_counts"]) == 100
    assert out["reverse_kl"] == pytest.approx(math.log(25))


def test_samples_far_away_cover_nothing():
    out = metrics.mode_metrics(GRID + 1.0, GRID, SIGMA)            # between the modes
    assert out["modes_covered"] == 0 and out["hq_share"] == 0.0
    assert out["mode_counts"] == [0] * 25 and math.isnan(out["reverse_kl"])


def test_mixed_case_by_hand():
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    samples = np.array([
        [0.0, 0.0], [0.02, 0.0], [0.0, -0.02],     # 3 on mode 0
        [1.0, 0.01],                               # 1 on mode 1
        [0.5, 0.5], [0.35, 0.0],                   # low quality (nearest centre too far)
    ])
    out = metrics.mode_metrics(samples, centers, sigma=0.1)       # radius 0.3
    assert out["mode_counts"] == [3, 1, 0, 0] and out["modes_covered"] == 2
    assert out["hq_share"] == pytest.approx(4 / 6)
    # q = (3/4, 1/4, 0, 0) against p = 1/4: 3/4 ln 3 + 1/4 ln 1 (empty bins add 0)
    assert out["reverse_kl"] == pytest.approx(0.75 * math.log(3))


def test_quality_radius_is_n_std_sigma_and_works_in_3d():
    centers = np.zeros((1, 3))
    samples = np.array([[0.29, 0.0, 0.0], [0.0, 0.31, 0.0]])
    assert metrics.mode_metrics(samples, centers, sigma=0.1)["hq_share"] == 0.5
    assert metrics.mode_metrics(samples, centers, sigma=0.1, n_std=4.0)["hq_share"] == 1.0


@pytest.mark.parametrize(("samples", "centers", "sigma", "match"), [
    (np.zeros(5), GRID, SIGMA, "samples"),
    (np.zeros((5, 3)), GRID, SIGMA, "3-D but centers are 2-D"),
    (np.zeros((5, 2)), np.zeros((0, 2)), SIGMA, "centers"),
    (np.zeros((5, 2)), GRID, 0.0, "sigma"),
    (np.full((5, 2), np.nan), GRID, SIGMA, "NaN"),
])
def test_mode_metrics_rejects_bad_input(samples, centers, sigma, match):
    with pytest.raises(ValueError, match=match):
        metrics.mode_metrics(samples, centers, sigma)


def test_class_spread_by_hand_and_for_copies():
    # class 0: points 0 and (3, 4) -> distance 5; class 1: three copies -> 0; class 2: one sample
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [7.0, 7.0]])
    probs = np.eye(4)[[0, 0, 1, 1, 1, 2]]
    spread = metrics.class_spread(feats, probs)
    assert spread.shape == (4,)
    assert spread[0] == pytest.approx(5.0) and spread[1] == 0.0
    assert math.isnan(spread[2]) and math.isnan(spread[3])      # fewer than two samples
    # an equilateral triangle of side 2: every pairwise distance is 2
    tri = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, math.sqrt(3.0)]])
    assert metrics.class_spread(tri, torch.tensor([[1.0, 0.0]] * 3))[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="one row per sample"):
        metrics.class_spread(feats[:3], probs)
