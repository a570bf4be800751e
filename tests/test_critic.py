"""Tests for gancourse.analysis.critic: the critic as a W1 estimate."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import data
from gancourse.analysis import critic
from gancourse.divergences import emd_point_clouds, wasserstein_1d
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import GANTrainer, TrainConfig


def linear_critic(w: list[float]) -> nn.Module:
    """f(x) = w·x: Lipschitz constant ‖w‖, gradient w everywhere."""
    net = nn.Sequential(nn.Linear(len(w), 1, bias=True), nn.Flatten(0))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([w]))
        net[0].bias.fill_(0.7)
    return net


# ----------------------------------------------------------------------------- 1D potential
def test_potential_of_a_shift_is_minus_identity():
    # P = δ0, Q = δ3: W1 = 3; f' = sign(G - F) = -1 between 0 and 3
    t, f = critic.kantorovich_potential_1d([0.0], [3.0])
    assert np.allclose(t, [0.0, 3.0]) and np.allclose(f, [0.0, -3.0])
    assert critic.dual_value_1d([0.0], [3.0]) == pytest.approx(3.0)


def test_potential_by_hand_two_points():
    # P = {0, 2}, Q = {1, 1}: F - G on [0,1) = 0.5, [1,2) = -0.5 -> slopes -1, +1; W1 = 1
    t, f = critic.kantorovich_potential_1d([0.0, 2.0], [1.0, 1.0])
    assert np.allclose(t, [0, 1, 1, 2]) and np.allclose(f, [0, -1, -1, 0])
    assert critic.dual_value_1d([0.0, 2.0], [1.0, 1.0]) == pytest.approx(1.0)


def test_dual_value_equals_w1_and_potential_is_1_lipschitz():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, 300), rng.normal(2, 0.5, 200)])
    y = rng.normal(0.5, 1.0, 400)
    t, f = critic.kantorovich_potential_1d(x, y)
    slopes = np.diff(f)[np.diff(t) > 0] / np.diff(t)[np.diff(t) > 0]
    assert np.all(np.abs(slopes) <= 1 + 1e-6) and np.abs(slopes).max() > 0.99
    assert critic.dual_value_1d(x, y) == pytest.approx(wasserstein_1d(x, y), rel=1e-10)


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [np.nan, 1.0]])
def test_potential_rejects_bad_samples(bad):
    with pytest.raises(ValueError, match="1D array"):
        critic.kantorovich_potential_1d(bad, [0.0])


# ----------------------------------------------------------------------------- estimates
def test_linear_critic_gap_scale_and_estimate():
    net = linear_critic([3.0, 4.0])                         # ‖w‖ = 5
    real = torch.tensor([[1.0, 0.0], [1.0, 2.0]])           # mean (1, 1)
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    assert critic.critic_gap(net, real, fake) == pytest.approx(7.0)   # w·(1, 1); bias cancels
    assert critic.lipschitz_scale(net, real, fake) == pytest.approx(5.0)
    est = critic.w1_estimate(net, real, fake)
    assert est == pytest.approx({"gap": 7.0, "k_hat": 5.0, "w1": 1.4})


def test_scaled_critic_gives_the_same_estimate():
    # clipping changes the scale of f, not the estimate gap / K̂
    torch.manual_seed(0)
    net = MLPDiscriminator(2, hidden=(16,))
    scaled = nn.Sequential(net, _Scale(0.01))
    real, fake = torch.randn(50, 2) + 2, torch.randn(50, 2)
    a = critic.w1_estimate(net, real, fake, torch.Generator().manual_seed(1))
    b = critic.w1_estimate(scaled, real, fake, torch.Generator().manual_seed(1))
    assert b["gap"] == pytest.approx(0.01 * a["gap"], rel=1e-4)
    assert b["w1"] == pytest.approx(a["w1"], rel=1e-4)


class _Scale(nn.Module):
    def __init__(self, s: float):
        super().__init__()
        self.s = s

    def forward(self, x):
        return self.s * x


def test_optimal_critic_estimate_matches_exact_w1_in_1d_shift():
    # P = Q shifted by 2 along x: f(x) = x is optimal; estimate = exact W1 = 2
    net = linear_critic([1.0, 0.0])
    fake = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    real = fake + torch.tensor([2.0, 0.0])
    em = emd_point_clouds(real.numpy(), fake.numpy())[0]
    assert critic.w1_estimate(net, real, fake)["w1"] == pytest.approx(em, rel=1e-5)


def test_estimate_rejects_constant_critic_and_bad_shapes():
    net = linear_critic([0.0, 0.0])
    with pytest.raises(ValueError, match="constant"):
        critic.w1_estimate(net, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="same sample shape"):
        critic.critic_gap(linear_critic([1.0, 1.0]), torch.randn(4, 2), torch.randn(4, 3))


# ----------------------------------------------------------------------------- tracker
def test_em_tracker_records_estimate_and_exact_em():
    ring = data.ring8()
    real = ring.sample(64, seed=0)
    torch.manual_seed(0)
    netG = MLPGenerator(2, 2, hidden=(16,), out_activation=None)
    netD = MLPDiscriminator(2, hidden=(16,))
    cfg = TrainConfig(steps=4, batch_size=16, z_dim=2, loss="wgan", clip=0.05,
                      optimizer="rmsprop", lr_g=1e-3, lr_d=1e-3, log_every=1, progress=False)
    tracker = critic.EMTracker(real, every=2, n=32, seed=3)
    trainer = GANTrainer(netG, netD, ring, cfg, callbacks=[tracker])
    trainer.fit()
    assert tracker.steps == [2, 4]
    fake = trainer.sample(32, seed=3)
    assert tracker.em[-1] == pytest.approx(emd_point_clouds(fake.numpy(), real.numpy())[0])
    assert tracker.w1[-1] == pytest.approx(tracker.gap[-1] / tracker.k_hat[-1])
    assert all(k > 0 for k in tracker.k_hat)


@pytest.mark.parametrize("kwargs, match", [({"real": torch.zeros(4, 1, 2), "every": 1}, "toy points"),
                                           ({"real": torch.zeros(4, 2), "every": 0}, "positive")])
def test_em_tracker_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        critic.EMTracker(**kwargs)


# ----------------------------------------------------------------------------- correlations
def test_correlations_known_values():
    out = critic.correlations([1, 2, 3, 4], [1, 4, 9, 100])
    assert out["spearman"] == pytest.approx(1.0)
    assert out["pearson"] < 1.0
    anti = critic.correlations([1, 2, 3], [3, 2, 1])
    assert anti == pytest.approx({"pearson": -1.0, "spearman": -1.0})
    # hand-computed: x = (1,2,3,4), y = (2,1,4,3): d = (1,-1,1,-1), rho = 1 - 6·4/(4·15) = 0.6
    assert critic.correlations([1, 2, 3, 4], [2, 1, 4, 3])["spearman"] == pytest.approx(0.6)
    assert not math.isnan(critic.correlations([1, 2, 3], [1, 3, 2])["pearson"])


@pytest.mark.parametrize("a, b, match", [([1, 2], [1, 2], "length >= 3"), ([1, 2, 3], [1, 2], "equal"),
                                         ([1, 1, 1], [1, 2, 3], "constant")])
def test_correlations_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        critic.correlations(a, b)
