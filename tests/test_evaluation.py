"""Tests for gancourse.metrics.evaluation against known answers."""

import math

import numpy as np
import pytest
import torch

from gancourse.metrics import evaluation as ev

RNG = np.random.default_rng(0)
A = RNG.normal(size=(300, 4))
B = RNG.normal(size=(300, 4))
FAR = A + 50.0


# ----------------------------------------------------------------------------- Parzen
def test_parzen_single_point_is_gaussian_log_density():
    s, x, sigma = np.zeros((1, 2)), np.array([[1.0, 2.0]]), 0.5
    expected = -5.0 / (2 * sigma ** 2) - math.log(2 * math.pi * sigma ** 2)
    assert ev.parzen_log_likelihood(s, x, sigma) == pytest.approx(expected, rel=1e-12)


def test_parzen_two_centres_by_hand():
    s, x = np.array([[0.0], [2.0]]), np.array([[0.0]])
    expected = math.log(0.5 * (1 + math.exp(-2.0))) - 0.5 * math.log(2 * math.pi)
    assert ev.parzen_log_likelihood(s, x, 1.0) == pytest.approx(expected, rel=1e-12)


def test_parzen_batches_agree_and_memorising_wins():
    ll = ev.parzen_log_likelihood(A, B, 0.7)
    assert ev.parzen_log_likelihood(A, B, 0.7, batch_size=7) == pytest.approx(ll, rel=1e-12)
    # a "generator" that returns the test points themselves scores far better at small sigma
    assert ev.parzen_log_likelihood(B, B, 0.1) > ev.parzen_log_likelihood(A, B, 0.1) + 10
    assert ev.parzen_log_likelihood(FAR, B, 0.7) < ll - 100


def test_select_bandwidth_picks_the_interior_optimum():
    sigmas = [0.01, 0.1, 0.5, 1.0, 10.0]
    best, lls = ev.select_bandwidth(A, B, sigmas)
    assert lls.shape == (5,) and best == sigmas[int(np.argmax(lls))]
    assert best in (0.5, 1.0) and lls[0] < lls[2] and lls[-1] < lls[3]


def test_parzen_failures():
    with pytest.raises(ValueError, match="sigma"):
        ev.parzen_log_likelihood(A, B, 0.0)
    with pytest.raises(ValueError, match="dimension"):
        ev.parzen_log_likelihood(A, B[:, :3], 1.0)
    with pytest.raises(ValueError, match="candidate"):
        ev.select_bandwidth(A, B, [])


# ----------------------------------------------------------------------------- IS
def test_inception_score_known_values():
    onehot = np.eye(10)[np.arange(100) % 10]
    assert ev.inception_score(onehot, splits=1)[0] == pytest.approx(10.0)
    mean, std = ev.inception_score(onehot, splits=5)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-12)
    collapsed = np.eye(10)[np.zeros(100, dtype=int)]  # one class only
    assert ev.inception_score(collapsed, splits=2)[0] == pytest.approx(1.0)
    uniform = np.full((50, 10), 0.1)  # no confidence
    assert ev.inception_score(uniform, splits=1)[0] == pytest.approx(1.0)
    half = np.array([[1.0, 0.0]] * 5 + [[0.5, 0.5]] * 5)  # p(y) = (0.75, 0.25)
    kl = 0.5 * math.log(1 / 0.75) + 0.5 * (0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25))
    assert ev.inception_score(half, splits=1)[0] == pytest.approx(math.exp(kl))


def test_inception_score_failures():
    with pytest.raises(ValueError, match="splits"):
        ev.inception_score(np.eye(3), splits=4)
    with pytest.raises(ValueError, match="probabilities"):
        ev.inception_score(np.ones((4, 3)))


# ----------------------------------------------------------------------------- KID
def test_mmd2_hand_case_and_identical_sets():
    a, b = np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])
    k = lambda x, y: (x * y + 1) ** 3  # noqa: E731  d = 1
    expected = (2 * k(0, 1)) / 2 + (2 * k(2, 3)) / 2 - 2 * (k(0, 2) + k(0, 3) + k(1, 2) + k(1, 3)) / 4
    assert ev.mmd2_unbiased(a, b) == pytest.approx(expected)
    assert ev.mmd2_unbiased(A, A) < 0  # the diagonal is left out: exactly -mean off-diagonal gap
    assert abs(ev.mmd2_unbiased(A, B)) < 0.1
    assert ev.mmd2_unbiased(A, FAR) > 1e4


def test_kernel_distance_subsets():
    mean, std = ev.kernel_distance(A, B, subsets=5, subset_size=100)
    assert abs(mean) < 0.2 and std > 0
    far, _ = ev.kernel_distance(A, FAR, subsets=3, subset_size=50)
    assert far > 1e4
    assert ev.kernel_distance(A, B, 3, 50, seed=1) == ev.kernel_distance(A, B, 3, 50, seed=1)
    with pytest.raises(ValueError, match="subset_size"):
        ev.kernel_distance(A, B[:10], subset_size=20)
    with pytest.raises(ValueError, match="at least 2"):
        ev.mmd2_unbiased(A[:1], B)


# ----------------------------------------------------------------------------- FD vs N
def test_fd_versus_n_bias_and_extrapolation():
    big_a, big_b = RNG.normal(size=(2000, 8)), RNG.normal(size=(2000, 8))
    out = ev.fd_versus_n(big_a, big_b, ns=[100, 200, 500, 1000, 2000], repeats=2)
    assert out["fd"].shape == (5,) and out["slope"] > 0          # FD shrinks as N grows
    assert out["fd"][0] > out["fd"][-1]
    assert abs(out["fd_inf"]) < out["fd"][-1]                     # closer to the true 0
    shifted = ev.fd_versus_n(big_a, big_b + 1.0, ns=[200, 500, 1000, 2000])
    assert shifted["fd_inf"] == pytest.approx(8.0, abs=0.6)       # ||mu_a - mu_b||^2 = 8
    with pytest.raises(ValueError, match="two different"):
        ev.fd_versus_n(A, B, ns=[100, 100])
    with pytest.raises(ValueError, match="every N"):
        ev.fd_versus_n(A, B, ns=[100, 400])


# ----------------------------------------------------------------------------- P & R
def test_precision_recall_identical_disjoint_collapsed():
    assert ev.precision_recall(A, A, k=3) == (1.0, 1.0)
    assert ev.precision_recall(A, FAR, k=3) == (0.0, 0.0)
    collapsed = A[:1] + 0.01 * RNG.normal(size=(300, 4))     # every fake near one real point
    precision, recall = ev.precision_recall(A, collapsed, k=3)
    assert precision == 1.0 and recall < 0.05
    p, r = ev.precision_recall(A, B, k=3)
    assert 0.6 < p <= 1 and 0.6 < r <= 1


def test_precision_recall_hand_case():
    real = np.array([[0.0], [1.0], [2.0]])        # k = 1 radii: 1, 1, 1 -> manifold [-1, 3]
    fake = np.array([[2.5], [10.0], [11.0]])      # k = 1 radii: 7.5, 1, 1
    p, r = ev.precision_recall(real, fake, k=1)
    assert p == pytest.approx(1 / 3)              # only 2.5 lies within the real balls
    assert r == pytest.approx(1.0)                # 2.5's ball (radius 7.5) holds 0, 1, 2
    with pytest.raises(ValueError, match="k must"):
        ev.precision_recall(real, fake, k=3)


# ----------------------------------------------------------------------------- memorisation
def test_nearest_neighbours_and_memorisation():
    d, i = ev.nearest_neighbours(np.array([[0.1], [4.0]]), np.array([[0.0], [3.0], [5.0]]))
    np.testing.assert_allclose(d, [0.1, 1.0])
    assert list(i) == [0, 1] or list(i) == [0, 2]
    train, held = A[:200], A[200:]
    copies = ev.memorisation(train[:50] + 1e-6, train, held)
    assert copies["ratio"] < 0.01 and copies["copy_share"] == 1.0
    honest = ev.memorisation(B[:100], train, held)
    assert 0.7 < honest["ratio"] < 1.4 and honest["copy_share"] < 0.1
    with pytest.raises(ValueError, match="disjoint"):
        ev.memorisation(B, train, train)


# ----------------------------------------------------------------------------- Inception
def test_load_inception_offline_without_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(RuntimeError, match="offline"):
        ev.load_inception(offline=True)


def test_inception_features_shapes_with_a_stub_model():
    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
            self.fc = torch.nn.Linear(3, 5)

        def forward(self, x):
            assert x.shape[1:] == (3, 299, 299)
            return self.fc(self.avgpool(x).flatten(1))

    feats, probs = ev.inception_features(Stub(), torch.zeros(5, 1, 28, 28), batch_size=2)
    assert feats.shape == (5, 3) and probs.shape == (5, 5)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    with pytest.raises(ValueError, match="images must"):
        ev.inception_features(Stub(), torch.zeros(5, 2, 28, 28))
