import math

import pytest
import torch

from gancourse import losses
from gancourse.gans import energy as E
from gancourse.gans.energy import ConvAutoencoderD, MLPAutoencoderD, reconstruction_energy
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import Batch, TrainConfig


# ----------------------------------------------------------------------------- models
def test_reconstruction_energy_hand_values():
    x = torch.tensor([[1.0, -1.0], [0.0, 0.0]])
    x_hat = torch.tensor([[0.0, 1.0], [0.5, -0.5]])
    assert torch.allclose(reconstruction_energy(x, x_hat, p=1), torch.tensor([1.5, 0.5]))
    assert torch.allclose(reconstruction_energy(x, x_hat, p=2), torch.tensor([2.5, 0.25]))
    with pytest.raises(ValueError, match="p must be 1"):
        reconstruction_energy(x, x_hat, p=3)
    with pytest.raises(ValueError, match="differ in shape"):
        reconstruction_energy(x, x_hat[:, :1])


def test_mlp_autoencoder_discriminator_returns_energy_code_and_reconstruction():
    torch.manual_seed(0)
    netD = MLPAutoencoderD(in_dim=2, hidden=(16, 16), code_dim=4, p=2)
    x = torch.randn(5, 2)
    energy, code, x_hat = netD.energy_terms(x)
    assert energy.shape == (5,) and code.shape == (5, 4) and x_hat.shape == (5, 2)
    assert torch.allclose(netD(x), ((x - netD.reconstruct(x)) ** 2).mean(1))
    assert torch.allclose(netD.decode(netD.encode(x)), x_hat)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(B, 2\)"):
        netD(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"codes of shape \(B, 4\)"):
        netD.decode(torch.randn(5, 3))
    with pytest.raises(ValueError, match="code_dim"):
        MLPAutoencoderD(code_dim=0)
    with pytest.raises(ValueError, match="p must be 1"):
        MLPAutoencoderD(p=0)
    with pytest.raises(ValueError, match="hidden layer"):
        MLPAutoencoderD(hidden=())


@pytest.mark.parametrize("size", [28, 32])
def test_conv_autoencoder_discriminator_shapes(size):
    torch.manual_seed(0)
    netD = ConvAutoencoderD(channels=1, image_size=size, ndf=4, code_dim=8)
    x = torch.rand(3, 1, size, size) * 2 - 1
    energy, code, x_hat = netD.energy_terms(x)
    assert energy.shape == (3,) and code.shape == (3, 8) and x_hat.shape == x.shape
    assert torch.allclose(energy, (x - x_hat).abs().flatten(1).mean(1))      # p = 1 (BEGAN)
    assert (energy > 0).all()
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        ConvAutoencoderD(image_size=28, ndf=4)(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="ndf"):
        ConvAutoencoderD(ndf=0)


# ----------------------------------------------------------------------------- losses
def test_ebgan_losses_hand_values_and_margin():
    real, fake = torch.tensor([0.1, 0.3]), torch.tensor([0.5, 2.0], requires_grad=True)
    loss = losses.ebgan_d_loss(real, fake, margin=1.0)          # 0.2 + mean([0.5, 0])
    assert loss.item() == pytest.approx(0.45)
    (grad,) = torch.autograd.grad(loss, fake)
    assert grad.tolist() == pytest.approx([-0.5, 0.0])     # beyond the margin: no gradient
    assert losses.ebgan_g_loss(torch.tensor([0.5, 2.0])).item() == pytest.approx(1.25)
    with pytest.raises(ValueError, match="margin"):
        losses.ebgan_d_loss(real, fake, margin=0.0)


def test_pulling_away_term_hand_values():
    assert losses.pulling_away_term(torch.eye(3)).item() == pytest.approx(0.0)
    parallel = torch.tensor([[1.0, 2.0], [-2.0, -4.0], [0.5, 1.0]])   # scale and sign do not matter
    assert losses.pulling_away_term(parallel).item() == pytest.approx(1.0, rel=1e-6)
    # cos²((1,0), (1,1)) = 1/2, counted for (i,j) and (j,i): (0.5 + 0.5) / (2·1)
    assert losses.pulling_away_term(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least 2 codes"):
        losses.pulling_away_term(torch.ones(1, 3))
    with pytest.raises(ValueError, match="at least 2 codes"):
        losses.pulling_away_term(torch.ones(4))


def test_began_loss_k_update_and_m_global_hand_values():
    assert losses.began_d_loss(torch.tensor(0.2), torch.tensor(0.3), 0.5).item() == pytest.approx(0.05)
    k = E.began_k_update(0.5, 0.2, 0.05, gamma=0.5, lambda_k=0.1)   # 0.5 + 0.1 (0.1 - 0.05)
    assert k.ndim == 0 and k.item() == pytest.approx(0.505)
    assert E.began_k_update(0.0, 0.1, 0.9, gamma=0.5, lambda_k=0.1).item() == 0.0    # clipped
    assert E.began_k_update(0.99, 1.0, 0.0, gamma=1.0, lambda_k=0.1).item() == 1.0   # clipped
    k_t = torch.tensor(0.3, requires_grad=True)
    assert not E.began_k_update(k_t, torch.tensor(0.2), 0.1, 0.5, 1e-3).requires_grad
    assert E.m_global(0.2, 0.3, gamma=0.5).item() == pytest.approx(0.4)    # 0.2 + |0.1 - 0.3|
    assert E.m_global(0.2, 0.1, gamma=0.5).item() == pytest.approx(0.2)    # at equilibrium
    with pytest.raises(ValueError, match="gamma"):
        E.began_k_update(0.0, 0.1, 0.1, gamma=0.0, lambda_k=0.1)
    with pytest.raises(ValueError, match="gamma"):
        E.m_global(0.1, 0.1, gamma=1.5)
    with pytest.raises(ValueError, match="lambda_k"):
        E.began_k_update(0.0, 0.1, 0.1, gamma=0.5, lambda_k=0.0)


# ----------------------------------------------------------------------------- trainers
def _toy_parts(seed=0):
    torch.manual_seed(seed)
    data = torch.randn(256, 2) * 10                       # energies of an untrained AE >> 1
    netG = MLPGenerator(2, 2, hidden=(16,), out_activation=None)
    netD = MLPAutoencoderD(2, hidden=(16,), code_dim=4, p=2)
    config = TrainConfig(steps=3, batch_size=16, z_dim=2, progress=False, sample_every=3)
    return netG, netD, data, config


def test_ebgan_trainer_uses_the_margin_loss_and_logs_pt():
    netG, netD, data, config = _toy_parts()
    trainer = E.EBGANTrainer(netG, netD, data, config, margin=2.0, pt_weight=0.1)
    real, fake = data[:8], torch.randn(8, 2)
    batch = Batch(x=real)
    loss, real_e, fake_e = trainer.discriminator_loss(batch, fake)
    assert torch.allclose(loss, losses.ebgan_d_loss(netD(real), netD(fake), 2.0))
    g = trainer.generator_loss(batch, fake)
    energy, codes, _ = netD.energy_terms(fake)
    assert torch.allclose(g, energy.mean() + 0.1 * losses.pulling_away_term(codes))
    history = trainer.fit()
    assert len(history["pt"]) == 3 and all(0 <= v <= 1 for v in history["pt"])
    assert history["D_real"][0] > 1                       # raw energy, not a sigmoid
    with pytest.raises(ValueError, match="margin"):
        E.EBGANTrainer(netG, netD, data, config, margin=-1.0)
    with pytest.raises(ValueError, match="pt_weight"):
        E.EBGANTrainer(netG, netD, data, config, margin=1.0, pt_weight=-1.0)
    with pytest.raises(TypeError, match="energy_terms"):
        E.EBGANTrainer(netG, MLPDiscriminator(2, hidden=(8,)), data, config, margin=1.0, pt_weight=0.1)


def test_began_trainer_updates_k_logs_m_global_and_checkpoints_k(tmp_path):
    netG, netD, data, config = _toy_parts()
    trainer = E.BEGANTrainer(netG, netD, data, config, gamma=0.5, lambda_k=0.01, k0=0.2)
    real, fake = data[:8], torch.randn(8, 2)
    lr, lf = netD(real).mean(), netD(fake).mean()
    loss, real_e, fake_e = trainer.discriminator_loss(Batch(x=real), fake)
    assert loss.item() == pytest.approx((lr - 0.2 * lf).item(), rel=1e-5)
    assert trainer.k.item() == pytest.approx(0.2)          # the loss has no side effect on k_t
    trainer.after_d_step(Batch(x=real), real_e, fake_e)    # the controller moves k_t
    expected_k = min(1.0, max(0.0, 0.2 + 0.01 * (0.5 * lr.item() - lf.item())))
    assert trainer.k.item() == pytest.approx(expected_k, rel=1e-5)
    trainer._buffer.clear()
    history = trainer.fit()
    for key in ("k", "m_global", "balance"):
        assert len(history[key]) == 3 and all(math.isfinite(v) for v in history[key])
    assert all(0 <= v <= 1 for v in history["k"])
    trainer.k = torch.tensor(0.75)
    path = trainer.save_checkpoint(tmp_path / "began.pt")
    again = E.BEGANTrainer(netG, netD, data, config, gamma=0.5, lambda_k=0.01)
    again.load_checkpoint(path)
    assert again.k.item() == pytest.approx(0.75) and again.step == 3
    for bad, match in (({"gamma": 0.0}, "gamma"), ({"lambda_k": -1.0}, "lambda_k"),
                       ({"k0": 2.0}, "k0")):
        with pytest.raises(ValueError, match=match):
            E.BEGANTrainer(netG, netD, data, config, **bad)
