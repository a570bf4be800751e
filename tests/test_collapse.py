"""Tests for gancourse.gans.collapse: batch layers, packing, the unrolled GAN, several generators."""

import math

import pytest
import torch
from torch import nn

from gancourse.analysis import protocol as P
from gancourse.data import grid25
from gancourse.gans import collapse as C
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import TrainConfig


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
    batch = next(trainer.batches)
    fake = trainer.d_step(batch, keep_graph=True)               # D's Adam has state now
    d_before = {k: v.clone() for k, v in trainer.netD.state_dict().items()}
    opt_before = {k: v.clone() for k, v in trainer.optD.state[next(trainer.netD.parameters())].items()}
    g_before = [p.clone() for p in trainer.netG.parameters()]
    trainer.g_step(batch, fake)
    for k, v in trainer.netD.state_dict().items():
        assert torch.equal(v, d_before[k]), f"unrolling changed D's {k}"
    for k, v in trainer.optD.state[next(trainer.netD.parameters())].items():
        assert torch.equal(v, opt_before[k]), f"unrolling changed D's optimiser state {k}"
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.netG.parameters()))


def test_unrolled_parameters_match_adam_steps_on_a_copy():
    trainer = _unrolled()
    trainer.d_step(next(trainer.batches))
    fake = trainer.netG(trainer._z(8)).detach()
    state = trainer.batches.generator.get_state()
    unrolled = trainer.unrolled_parameters(fake)
    # the same k steps with torch.optim.Adam on a copy of D, on the same real batches
    trainer.batches.generator.set_state(state)
    import copy
    d_copy = copy.deepcopy(trainer.netD)
    opt = torch.optim.Adam(d_copy.parameters(), lr=trainer.config.lr_d, betas=trainer.config.betas)
    opt.load_state_dict(trainer.optD.state_dict())
    for _ in range(trainer.unroll_steps):
        real = next(trainer.batches).x
        loss = trainer.loss.d_loss(d_copy(real), d_copy(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, p in d_copy.named_parameters():
        assert torch.allclose(unrolled[name], p, atol=1e-6), name


def test_unrolled_second_order_reaches_generator_through_the_steps():
    trainer = _unrolled()
    fake = trainer.netG(trainer._z(8))
    params = trainer.unrolled_parameters(fake)
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
def test_mixture_generator_equals_separate_mlps_on_interleaved_noise():
    torch.manual_seed(0)
    mix = C.MixtureGenerator(3, z_dim=2, out_dim=2, hidden=(5, 4))
    z = torch.randn(7, 2)                                      # 7 is not a multiple of 3
    out = mix(z)
    assert out.shape == (7, 2) and mix.z_dim == 2
    for i in range(7):                                         # sample i from generator i mod 3
        with torch.no_grad():
            assert torch.allclose(out[i], mix.member(i % 3)(z[i:i + 1])[0], atol=1e-6)
    out.sum().backward()
    assert all(w.grad is not None and (w.grad.flatten(1).abs().sum(1) > 0).all()
               for w in mix.weights)                           # every generator gets a gradient
    assert mix(torch.randn(2, 2)).shape == (2, 2)              # fewer samples than generators
    # as many weights between hidden layers as one MLP of width 4 * sqrt(3) ~ 7
    assert P.mixture_widths((128, 128), 8) == (45, 45)


def test_mixture_generator_errors():
    with pytest.raises(ValueError, match="n >= 1"):
        C.MixtureGenerator(0, 2, 2, (4,))
    with pytest.raises(ValueError, match="hidden widths"):
        C.MixtureGenerator(2, 2, 2, ())
    mix = C.MixtureGenerator(2, 2, 2, (4,))
    with pytest.raises(ValueError, match=r"expected noise \(B, 2\)"):
        mix(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="index"):
        mix.member(2)
