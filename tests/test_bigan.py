"""BiGAN / ALI (notebook 16): the joint discriminator, the losses by hand, the discrete theory
(the optimum inverts), and the trainer through the one loop."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse.gans.bigan import (
    BiGANTrainer,
    JointDiscriminator,
    MLPJointDiscriminator,
    _joint_tables,
    bigan_d_loss,
    encode,
    encoder_generator_loss,
    inverts,
    joint_js,
    optimal_pair_discriminator,
)
from gancourse.models.encoders import ConvDecoder, ConvEncoder, GaussianConvEncoder
from gancourse.training import TrainConfig


# ----------------------------------------------------------------------------- the discriminator
def test_joint_discriminator_scores_pairs():
    torch.manual_seed(0)
    netD = JointDiscriminator(z_dim=5, ndf=4, hidden=16, dropout=0.0).eval()
    x, z = torch.randn(3, 1, 28, 28), torch.randn(3, 5)
    s = netD(x, z)
    assert s.shape == (3,)
    # the score depends on both halves of the pair
    assert not torch.allclose(s, netD(x, torch.randn(3, 5)))
    assert not torch.allclose(s, netD(torch.randn(3, 1, 28, 28), z))
    with pytest.raises(ValueError, match=r"codes \(B, 5\) with B = 3"):
        netD(x, torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"expects images \(B, 1, 28, 28\)"):
        netD(torch.randn(3, 1, 32, 32), z)
    with pytest.raises(ValueError, match="dropout must lie in"):
        JointDiscriminator(dropout=1.0)


def test_mlp_joint_discriminator():
    torch.manual_seed(0)
    netD = MLPJointDiscriminator(x_dim=2, z_dim=1, hidden=(8, 8), dropout=0.1).eval()
    x, z = torch.randn(4, 2), torch.randn(4, 1)
    assert netD(x, z).shape == (4,)
    assert not torch.allclose(netD(x, z), netD(x, z + 1))
    with pytest.raises(ValueError, match=r"x \(B, 2\) and z \(B, 1\)"):
        netD(x, torch.randn(3, 1))
    with pytest.raises(ValueError, match="dropout must lie in"):
        MLPJointDiscriminator(2, 1, dropout=-0.1)


# ----------------------------------------------------------------------------- losses by hand
def test_losses_by_hand():
    sp = F.softplus
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # D: −log σ(s_real) − log(1 − σ(s_fake)), averaged per kind
    d = (sp(-real).mean() + sp(fake).mean()).item()
    assert bigan_d_loss(real, fake).item() == pytest.approx(d)
    # E and G: the labels swapped, −log σ(s_fake) − log(1 − σ(s_real))
    eg = (sp(-fake).mean() + sp(real).mean()).item()
    assert encoder_generator_loss(real, fake).item() == pytest.approx(eg)
    zeros = torch.zeros(4)
    assert bigan_d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert encoder_generator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    # least squares: ½(2 − 1)² / 2 + ½ 1 / 2 ... each half averaged
    assert bigan_d_loss(real, fake, "lsgan").item() == pytest.approx(
        (0.5 * (1 + 1) / 2) + (0.5 * (1 + 1) / 2))
    with pytest.raises(ValueError, match="separable loss"):
        bigan_d_loss(real, fake, "softmax")


# ----------------------------------------------------------------------------- discrete theory
def test_joint_tables_by_hand():
    p_x, p_z = [0.5, 0.5], [0.25, 0.75]
    p_ex, p_gz = _joint_tables(p_x, p_z, enc=[1, 0], gen=[0, 0])
    np.testing.assert_allclose(p_ex, [[0.0, 0.5], [0.5, 0.0]])     # P_EX(x, E(x)) = p_X(x)
    np.testing.assert_allclose(p_gz, [[0.25, 0.75], [0.0, 0.0]])   # P_GZ(G(z), z) = p_Z(z)
    assert p_ex.sum() == pytest.approx(1) and p_gz.sum() == pytest.approx(1)


def test_optimal_pair_discriminator():
    p = np.full(3, 1 / 3)
    d_inv = optimal_pair_discriminator(p, p, enc=[1, 2, 0], gen=[2, 0, 1])   # G = E⁻¹
    assert np.nanmax(np.abs(d_inv - 0.5)) == 0 and np.isnan(d_inv).sum() == 6
    d_bad = optimal_pair_discriminator(p, p, enc=[1, 2, 0], gen=[1, 2, 0])   # disjoint graphs
    assert set(np.unique(d_bad[~np.isnan(d_bad)])) == {0.0, 1.0}
    assert d_bad[0, 1] == 1.0 and d_bad[1, 0] == 0.0                        # (x, E(x)) real; (G(z), z) fake


def test_the_optimum_inverts():
    """Over all deterministic maps on 3 values (uniform p_X, p_Z): JS(P_EX ‖ P_GZ) = 0 exactly
    for the 6 pairs where G = E⁻¹, and > 0 for the other 723."""
    p = np.full(3, 1 / 3)
    zero = []
    for enc in itertools.product(range(3), repeat=3):
        for gen in itertools.product(range(3), repeat=3):
            js = joint_js(p, p, enc, gen)
            assert (js < 1e-12) == inverts(enc, gen, p, p), (enc, gen, js)
            if js < 1e-12:
                zero.append((enc, gen))
    assert len(zero) == 6
    assert all(tuple(np.argsort(e)) == g for e, g in zero)          # G is E's inverse permutation


def test_joint_js_bounds_and_errors():
    # disjoint joints: E sends every x to code 0, G makes image 0 only from code 1
    assert joint_js([0.5, 0.5], [0.0, 1.0], enc=[0, 0], gen=[0, 0]) == pytest.approx(math.log(2))
    assert 0 < joint_js([0.5, 0.5], [0.5, 0.5], enc=[0, 1], gen=[0, 0]) < math.log(2)
    # only the supports matter: an x of probability 0 may map anywhere
    assert joint_js([1.0, 0.0], [1.0, 0.0], enc=[0, 0], gen=[0, 1]) == pytest.approx(0, abs=1e-12)
    assert inverts([0, 0], [0, 1], [1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="probability vectors"):
        joint_js([0.5, 0.6], [0.5, 0.5], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="one code per x value"):
        joint_js([0.5, 0.5], [0.5, 0.5], [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="enc must map to codes 0..1"):
        joint_js([0.5, 0.5], [0.5, 0.5], [0, 2], [0, 1])


# ----------------------------------------------------------------------------- the trainer
def make_trainer(stochastic=False, steps=3, seed=0, checkpoint=None, dropout=0.0):
    torch.manual_seed(seed)
    enc = (GaussianConvEncoder if stochastic else ConvEncoder)(z_dim=4, ndf=4)
    netG = ConvDecoder(z_dim=4, ngf=4)
    netD = JointDiscriminator(z_dim=4, ndf=4, hidden=16, dropout=dropout)
    data = torch.rand(96, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    config = TrainConfig(steps=steps, batch_size=16, z_dim=4, progress=False, seed=seed)
    return BiGANTrainer(netG, netD, data, config, encoder=enc, lr_e=1e-4, device="cpu",
                        checkpoint=checkpoint), data


def _grads(loss, params):
    return [g if g is not None else torch.zeros_like(p)
            for g, p in zip(torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True), params)]


def test_trainer_pairs_and_gradients():
    trainer, data = make_trainer()
    assert [g["network"] for g in trainer.optG.param_groups] == ["netG", "netE"]
    assert not trainer.stochastic
    batch = next(trainer.batches)
    fake = trainer.generate(batch)
    assert fake["x"].shape == (16, 1, 28, 28) and fake["z"].shape == fake["z_enc"].shape == (16, 4)
    netD, netE, netG = trainer.netD, trainer.netE, trainer.netG
    loss_d, real_s, fake_s = trainer.discriminator_loss(batch, fake)
    # real pairs are (x, E(x)), fake pairs (G(z), z)
    torch.testing.assert_close(real_s, netD(batch.x, fake["z_enc"]))
    torch.testing.assert_close(fake_s, netD(fake["x"], fake["z"]))
    assert loss_d.item() == pytest.approx(bigan_d_loss(real_s, fake_s).item())
    # E learns only from the real pairs (pushing them to "fake"), G only from the fake pairs
    total = trainer.generator_loss(batch, fake)
    e_p, g_p = list(netE.parameters()), list(netG.parameters())
    for a, b in zip(_grads(total, e_p), _grads(F.softplus(netD(batch.x, fake["z_enc"])).mean(), e_p)):
        torch.testing.assert_close(a, b)
    for a, b in zip(_grads(total, g_p), _grads(F.softplus(-netD(fake["x"], fake["z"])).mean(), g_p)):
        torch.testing.assert_close(a, b)


def test_fit_encode_reconstruct():
    trainer, data = make_trainer(dropout=0.2)
    history = trainer.fit()
    assert len(history["loss_D"]) == 3 and all(math.isfinite(v) for v in history["loss_G"])
    codes = trainer.encode(data[:7])
    assert codes.shape == (7, 4)
    torch.testing.assert_close(codes, encode(trainer.netE, data[:7], batch_size=2))
    assert trainer.reconstruct(data[:5]).shape == (5, 1, 28, 28)
    assert trainer.netE.training and trainer.netG.training          # modes restored


def test_ali_encoder_samples_and_encodes_the_mean():
    trainer, data = make_trainer(stochastic=True)
    assert trainer.stochastic
    x = data[:8]
    a, b = trainer.encode_batch(x), trainer.encode_batch(x)
    assert a.shape == (8, 4) and not torch.allclose(a, b)          # a draw of q(z|x) each time
    a.sum().backward()                                               # reparameterised: E gets gradients
    assert trainer.netE.fc.weight.grad.abs().sum() > 0
    trainer.netE.eval()
    with torch.no_grad():
        mu, _ = trainer.netE(x)
    trainer.netE.train()
    torch.testing.assert_close(trainer.encode(x), mu)


def test_resume_is_bit_exact(tmp_path):
    """(Without dropout: D's dropout masks come from torch's global RNG, which checkpoints do
    not hold.)"""
    full, _ = make_trainer(steps=4)
    full.fit()
    ckpt = tmp_path / "bigan.pt"
    make_trainer(steps=2, checkpoint=ckpt)[0].fit()
    resumed, _ = make_trainer(steps=4, checkpoint=ckpt)
    resumed.fit()
    for name in ("netG", "netD", "netE"):
        for a, b in zip(full.networks[name].state_dict().values(),
                        resumed.networks[name].state_dict().values()):
            torch.testing.assert_close(a, b)


def test_errors():
    enc, netG = ConvEncoder(z_dim=4, ndf=4), ConvDecoder(z_dim=4, ngf=4)
    netD = JointDiscriminator(z_dim=4, ndf=4, hidden=8)
    data = torch.zeros(32, 1, 28, 28)
    with pytest.raises(ValueError, match="penalty=None"):
        BiGANTrainer(netG, netD, data, TrainConfig(steps=1, batch_size=16, z_dim=4, penalty="gp"),
                     encoder=enc)
    with pytest.raises(ValueError, match="separable loss"):
        BiGANTrainer(netG, netD, data, TrainConfig(steps=1, batch_size=16, z_dim=4, loss="rsgan"),
                     encoder=enc)
    with pytest.raises(ValueError, match="non-empty batch"):
        encode(enc, torch.zeros(0, 1, 28, 28))
