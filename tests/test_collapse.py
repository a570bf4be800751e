"""Tests for gancourse.collapse: batch layers, packing, unrolled GAN, mixtures, the protocol."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import collapse as C
from gancourse.data import grid25
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import TrainConfig

TINY = C.ToySetup(steps=3, batch_size=8, g_hidden=(8, 8), d_hidden=(8, 8), n_generators=2)


# ----------------------------------------------------------------------------- minibatch disc.
def test_minibatch_discrimination_counts_near_copies():
    layer = C.MinibatchDiscrimination(4, n_kernels=3, kernel_dim=2)
    copies = torch.ones(5, 4)                                  # identical: c_b(i, j) = 1
    out = layer(copies)
    assert out.shape == (5, 7)
    assert torch.equal(out[:, :4], copies)                     # original features kept
    assert torch.allclose(out[:, 4:], torch.full((5, 3), 4.0))  # B - 1 neighbours each
    far = torch.arange(5.0)[:, None].repeat(1, 4) * 1e3        # far apart: c_b -> 0
    with torch.no_grad():
        layer.T.fill_(1.0)
    assert torch.allclose(layer(far)[:, 4:], torch.zeros(5, 3), atol=1e-6)
    assert layer.out_features(4) == 7


def test_minibatch_discrimination_hand_computed():
    layer = C.MinibatchDiscrimination(1, n_kernels=1, kernel_dim=1)
    with torch.no_grad():
        layer.T.fill_(1.0)
    out = layer(torch.tensor([[0.0], [1.0], [3.0]]))
    expected = torch.tensor([math.exp(-1) + math.exp(-3), math.exp(-1) + math.exp(-2),
                             math.exp(-3) + math.exp(-2)])
    assert torch.allclose(out[:, 1], expected)


def test_minibatch_discrimination_errors():
    with pytest.raises(ValueError, match=">= 1"):
        C.MinibatchDiscrimination(0)
    with pytest.raises(ValueError, match="expected features"):
        C.MinibatchDiscrimination(4)(torch.zeros(3, 5))


# ----------------------------------------------------------------------------- minibatch std
def test_minibatch_stddev_known_values():
    layer = C.MinibatchStdDev(group_size=None)
    x = torch.tensor([[0.0, 0.0], [2.0, 4.0]])                 # std per feature 1 and 2 -> 1.5
    out = layer(x)
    assert out.shape == (2, 3)
    assert torch.allclose(out[:, 2], torch.full((2,), 1.5), atol=1e-4)
    assert torch.allclose(layer(torch.ones(6, 2))[:, 2], torch.zeros(6), atol=1e-3)  # collapsed


def test_minibatch_stddev_groups_and_images():
    layer = C.MinibatchStdDev(group_size=2)
    # groups are samples {0, 2} and {1, 3}: the first group varies, the second does not
    x = torch.tensor([[0.0], [5.0], [2.0], [5.0]])
    assert torch.allclose(layer(x)[:, 1], torch.tensor([1.0, 0.0, 1.0, 0.0]), atol=1e-3)
    img = torch.randn(4, 3, 5, 5)
    out = layer(img)
    assert out.shape == (4, 4, 5, 5)
    assert torch.equal(out[:, :3], img)
    assert torch.allclose(out[:, 3], out[:, 3, :1, :1].expand(4, 5, 5))     # constant channel
    assert C.MinibatchStdDev(4)(torch.randn(2, 3)).shape == (2, 4)     # group shrinks to B


def test_minibatch_stddev_errors():
    with pytest.raises(ValueError, match="group_size"):
        C.MinibatchStdDev(1)
    with pytest.raises(ValueError, match="not divisible"):
        C.MinibatchStdDev(4)(torch.zeros(6, 2))


def test_batch_feature_mlp_shapes_and_errors():
    for layer in (C.MinibatchDiscrimination(8), C.MinibatchStdDev(2)):
        netD = C.BatchFeatureMLP(2, (16, 8), layer)
        assert netD(torch.randn(6, 2)).shape == (6,)
    with pytest.raises(ValueError, match="expects"):
        netD(torch.randn(6, 3))
    with pytest.raises(ValueError, match="hidden layer"):
        C.BatchFeatureMLP(2, (), C.MinibatchStdDev(2))


# ----------------------------------------------------------------------------- PacGAN
def test_pack_concatenates_m_consecutive_samples():
    x = torch.arange(12.0).view(6, 2)
    packed = C.pack(x, 3)
    assert packed.shape == (2, 6)
    assert torch.equal(packed[0], torch.cat([x[0], x[1], x[2]]))
    assert torch.equal(packed[1], torch.cat([x[3], x[4], x[5]]))
    img = torch.randn(4, 1, 3, 3)
    p = C.pack(img, 2)
    assert p.shape == (2, 2, 3, 3)
    assert torch.equal(p[1, 0], img[2, 0]) and torch.equal(p[1, 1], img[3, 0])
    assert torch.equal(C.pack(x, 1), x)


def test_pack_errors():
    with pytest.raises(ValueError, match="multiple of m"):
        C.pack(torch.zeros(5, 2), 2)
    with pytest.raises(ValueError, match=">= 1"):
        C.pack(torch.zeros(4, 2), 0)
    with pytest.raises(ValueError, match=">= 1"):
        C.PackedDiscriminator(nn.Identity(), 0)


def test_packed_discriminator_scores_packs():
    inner = MLPDiscriminator(8, hidden=(4,))
    netD = C.PackedDiscriminator(inner, 4)
    x = torch.randn(12, 2)
    scores = netD(x)
    assert scores.shape == (3,)
    assert torch.allclose(scores, inner(x.reshape(3, 8)))


# ----------------------------------------------------------------------------- unrolled GAN
def _unrolled(**kwargs):
    torch.manual_seed(0)
    netG = MLPGenerator(2, (2,), hidden=(8,), out_activation=None)
    netD = MLPDiscriminator(2, hidden=(8,))
    cfg = TrainConfig(steps=2, batch_size=8, z_dim=2, progress=False, **kwargs)
    return C.UnrolledGANTrainer(netG, netD, grid25(), cfg, device="cpu", unroll_steps=3)


def test_unrolled_step_leaves_real_discriminator_unchanged():
    trainer = _unrolled()
    trainer.d_step()                                            # D's Adam has state now
    d_before = {k: v.clone() for k, v in trainer.netD.state_dict().items()}
    opt_before = {k: v.clone() for k, v in trainer.optD.state[next(trainer.netD.parameters())].items()}
    g_before = [p.clone() for p in trainer.netG.parameters()]
    trainer.g_step()
    for k, v in trainer.netD.state_dict().items():
        assert torch.equal(v, d_before[k]), f"unrolling changed D's {k}"
    for k, v in trainer.optD.state[next(trainer.netD.parameters())].items():
        assert torch.equal(v, opt_before[k]), f"unrolling changed D's optimiser state {k}"
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.netG.parameters()))


def test_unrolled_parameters_match_adam_steps_on_a_copy():
    trainer = _unrolled()
    trainer.d_step()
    fake = trainer.netG(trainer._z(8)).detach()
    state = trainer.batches.generator.get_state()
    unrolled = trainer.unrolled_parameters(fake, None)
    # the same k steps with torch.optim.Adam on a copy of D, on the same real batches
    trainer.batches.generator.set_state(state)
    import copy
    d_copy = copy.deepcopy(trainer.netD)
    opt = torch.optim.Adam(d_copy.parameters(), lr=trainer.config.lr_d, betas=trainer.config.betas)
    opt.load_state_dict(trainer.optD.state_dict())
    for _ in range(trainer.unroll_steps):
        real, _ = next(trainer.batches)
        loss = trainer.loss.d_loss(d_copy(real), d_copy(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, p in d_copy.named_parameters():
        assert torch.allclose(unrolled[name], p, atol=1e-6), name


def test_unrolled_second_order_reaches_generator_through_the_steps():
    trainer = _unrolled()
    fake = trainer.netG(trainer._z(8))
    params = trainer.unrolled_parameters(fake, None)
    w = next(iter(params.values()))
    assert w.grad_fn is not None
    grads = torch.autograd.grad(w.sum(), list(trainer.netG.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_unrolled_errors():
    with pytest.raises(ValueError, match="Adam"):
        _unrolled(optimizer="rmsprop")
    netG = MLPGenerator(2, (2,), hidden=(8,), out_activation=None)
    with pytest.raises(ValueError, match="unroll_steps"):
        C.UnrolledGANTrainer(netG, MLPDiscriminator(2, hidden=(8,)), grid25(),
                             TrainConfig(steps=1, batch_size=8, z_dim=2), unroll_steps=0)


# ----------------------------------------------------------------------------- mixture of G
def test_mixture_generator_interleaves_generators():
    class Const(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value, self.z_dim = value, 3
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, z):
            return self.w * torch.full((z.shape[0], 2), self.value)

    mix = C.MixtureGenerator([Const(0.0), Const(1.0), Const(2.0)])
    out = mix(torch.zeros(7, 3))
    assert out.shape == (7, 2) and mix.z_dim == 3
    assert torch.equal(out[:, 0], torch.tensor([0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]))
    out.sum().backward()
    assert all(g.w.grad is not None for g in mix.generators)
    assert mix(torch.zeros(2, 3)).shape == (2, 2)                # fewer samples than generators
    with pytest.raises(ValueError, match="at least one"):
        C.MixtureGenerator([])


# ----------------------------------------------------------------------------- protocol
def test_mean_se():
    assert C.mean_se([1.0, 3.0]) == (2.0, 1.0)                   # s = sqrt(2), se = s / sqrt(2)
    assert C.mean_se([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError):
        C.mean_se([])


@pytest.mark.parametrize("method", C.METHODS)
def test_make_trainer_every_method_trains(method):
    trainer = C.make_trainer(method, "ring8", TINY, seed=1)
    trainer.fit()
    assert trainer.sample(10).shape == (10, 2)
    if method == "unrolled":
        assert isinstance(trainer, C.UnrolledGANTrainer)
    if method == "pacgan4":
        assert trainer.config.batch_size == 4 * TINY.batch_size
    if method == "wgan-gp":
        assert trainer.config.loss == "wgan" and trainer.config.n_critic == TINY.n_critic_wgan


def test_make_trainer_errors():
    with pytest.raises(ValueError, match="valid: gan"):
        C.make_trainer("vae", "grid25", TINY)
    with pytest.raises(ValueError, match="valid: grid25"):
        C.make_trainer("gan", "moons", TINY)


def test_protocol_shapes_and_seeds():
    res = C.protocol(["gan", "mbstd"], "grid25", TINY, seeds=[0, 1], n_samples=50)
    assert set(res) == {"gan", "mbstd"}
    for r in res.values():
        assert len(r["runs"]) == 2 and [run["seed"] for run in r["runs"]] == [0, 1]
        modes = [run["modes_covered"] for run in r["runs"]]
        assert r["modes"] == pytest.approx(C.mean_se(modes))
        assert 0 <= r["modes"][0] <= 25 and r["runs"][0]["samples"].shape == (50, 2)
    again = C.protocol(["gan"], "grid25", TINY, seeds=[0], n_samples=50)
    assert np.array_equal(again["gan"]["runs"][0]["samples"], res["gan"]["runs"][0]["samples"])
    with pytest.raises(ValueError, match="unknown method"):
        C.protocol(["nope"], "grid25", TINY)
    with pytest.raises(ValueError, match="at least one seed"):
        C.protocol(["gan"], "grid25", TINY, seeds=[])


def test_mode_metrics_known_answers_for_collapsed_and_perfect_samplers():
    data = grid25()
    perfect = data.sample(2500, seed=0)
    m = C.mode_metrics(perfect, data.centers, data.sigma)
    assert m["modes_covered"] == 25 and m["hq_share"] > 0.97 and m["reverse_kl"] < 0.02
    collapsed = data.centers[7].repeat(2500, 1) + 0.01 * torch.randn(2500, 2)
    m = C.mode_metrics(collapsed, data.centers, data.sigma)
    assert m["modes_covered"] == 1 and m["hq_share"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))


# ----------------------------------------------------------------------------- stacked digits
def test_stack_digits_modes():
    images = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 1, 2, 2)   # image k is all k
    labels = torch.arange(10)
    stacked, modes = C.stack_digits(images, 50, seed=3, labels=labels)
    assert stacked.shape == (50, 3, 2, 2)
    digits = stacked[:, :, 0, 0].long()                                   # (50, 3)
    assert torch.equal(modes, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert C.stack_digits(images, 4)[1] is None
    with pytest.raises(ValueError, match="grey images"):
        C.stack_digits(torch.zeros(4, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="n must be"):
        C.stack_digits(images, 0)


class _PixelJudge(nn.Module):
    """A 'classifier' that reads the digit off the image's mean value (0..9)."""

    def predict(self, images, batch_size=256):
        k = images.mean((1, 2, 3)).round().long().clamp(0, 9)
        return torch.zeros(len(images), 1), nn.functional.one_hot(k, 10).float()


def test_stacked_mode_metrics_collapsed_and_uniform():
    judge = _PixelJudge()
    one = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1).expand(40, 3, 2, 2)
    m = C.stacked_mode_metrics(one, judge)
    assert m["modes_covered"] == 1 and m["mode_counts"][123] == 40
    assert m["reverse_kl"] == pytest.approx(math.log(1000))
    codes = torch.arange(1000)
    digits = torch.stack([codes // 100, codes // 10 % 10, codes % 10], 1).float()
    every = digits.view(1000, 3, 1, 1).expand(1000, 3, 2, 2)
    m = C.stacked_mode_metrics(every, judge)
    assert m["modes_covered"] == 1000 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="stacked images"):
        C.stacked_mode_metrics(torch.zeros(2, 1, 2, 2), judge)
