"""VAE-GAN (notebook 15): its losses by hand, the routing of each loss to its own network, and the
trainer through the one loop."""

import math

import pytest
import torch

from gancourse.gans.vaegan import (
    VAEGANTrainer,
    decoder_gan_loss,
    feature_reconstruction,
    kl_to_prior,
    reconstruct,
    three_way_d_loss,
)
from gancourse.models import DCGANDiscriminator, MLPDiscriminator
from gancourse.models.autoencoder import VAE
from gancourse.models.encoders import ConvVAE
from gancourse.training import TrainConfig


# ----------------------------------------------------------------------------- losses by hand
def test_kl_to_prior_by_hand():
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    # ½[(1 + 1 − 0 − 1) + (0 + 4 − ln 4 − 1)] = 2 − ln 2
    assert kl_to_prior(mu, logvar).item() == pytest.approx(2 - math.log(2))
    assert kl_to_prior(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    with pytest.raises(ValueError, match=r"both be \(B, z_dim\)"):
        kl_to_prior(torch.zeros(3, 4), torch.zeros(3, 5))


def test_feature_reconstruction_by_hand():
    fx = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    fr = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    # per image ½(1 + 4) = 2.5 and ½ · 9 = 4.5; batch mean 3.5
    assert feature_reconstruction(fx, fr).item() == pytest.approx(3.5)
    # feature maps (B, C, H, W) are summed over C, H, W
    ones, zeros = torch.ones(2, 3, 2, 2), torch.zeros(2, 3, 2, 2)
    assert feature_reconstruction(ones, zeros).item() == pytest.approx(6.0)
    with pytest.raises(ValueError, match="differ in shape"):
        feature_reconstruction(torch.zeros(2, 3), torch.zeros(2, 4))


def test_three_way_and_decoder_losses_by_hand():
    sp = torch.nn.functional.softplus
    real, rec, prior = torch.tensor([2.0]), torch.tensor([-1.0]), torch.tensor([0.0])
    # −log σ(2) − log(1 − σ(−1)) − log(1 − σ(0))
    expected = sp(torch.tensor(-2.0)) + sp(torch.tensor(-1.0)) + math.log(2)
    assert three_way_d_loss(real, rec, prior).item() == pytest.approx(expected.item())
    zeros = torch.zeros(4)
    assert three_way_d_loss(zeros, zeros, zeros).item() == pytest.approx(3 * math.log(2))
    assert decoder_gan_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    # −log σ(−1) − log σ(0): the non-saturating G loss on both kinds of fakes
    assert decoder_gan_loss(rec, prior).item() == pytest.approx(sp(torch.tensor(1.0)).item() + math.log(2))
    # least squares halves: ½(2 − 1)² + ½(−1)² + ½ 0²
    assert three_way_d_loss(real, rec, prior, "lsgan").item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="separable loss"):
        three_way_d_loss(real, rec, prior, "rsgan")


# ----------------------------------------------------------------------------- the trainer
def make_trainer(gamma=1.0, beta=1.0, steps=4, seed=0, checkpoint=None, n=128):
    torch.manual_seed(seed)
    vae = ConvVAE(z_dim=4, ndf=4, ngf=4)
    netD = DCGANDiscriminator(1, 28, ndf=4, norm="layer")
    data = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    config = TrainConfig(steps=steps, batch_size=16, z_dim=4, progress=False, seed=seed)
    trainer = VAEGANTrainer(vae.decoder, netD, data, config, encoder=vae.encoder, gamma=gamma,
                            beta=beta, lr_e=1e-4, device="cpu", checkpoint=checkpoint)
    return trainer, data


def test_trainer_registers_the_encoder_and_trains():
    trainer, data = make_trainer()
    assert [g["network"] for g in trainer.optG.param_groups] == ["netG", "netE"]
    assert [g["lr"] for g in trainer.optG.param_groups] == [2e-4, 1e-4]
    batch = next(trainer.batches)
    fake = trainer.generate(batch)
    assert set(fake) == {"rec", "prior", "rec_enc", "mu", "logvar"}
    assert fake["rec"].shape == fake["prior"].shape == fake["rec_enc"].shape == (16, 1, 28, 28)
    torch.testing.assert_close(fake["rec"], fake["rec_enc"])   # same values, different gradients
    with torch.no_grad():
        assert "rec_enc" not in trainer.generate(batch)          # D's steps skip the encoder's path
    before = {k: v.clone() for k, v in trainer.netE.state_dict().items()}
    history = trainer.fit()
    for key in ("kl", "llike", "gan_g", "D_rec", "D_prior", "loss_D", "loss_G"):
        assert len(history[key]) == 4 and all(math.isfinite(v) for v in history[key])
    assert any(not torch.equal(before[k], v) for k, v in trainer.netE.state_dict().items())
    assert trainer.reconstruct(data[:5]).shape == (5, 1, 28, 28)
    assert trainer.sample(6).shape == (6, 1, 28, 28)


def _grads(loss, params):
    return [g if g is not None else torch.zeros_like(p)
            for g, p in zip(torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True), params)]


def test_each_network_gets_only_its_own_loss():
    """Enc's gradient is that of β L_prior + L_llike (through the full decoder, no GAN term, no γ);
    Dec's gradient is that of γ L_llike − L_GAN (nothing from the encoder's terms)."""
    trainer, _ = make_trainer(gamma=3.0, beta=0.5)
    netE, netG, netD = trainer.netE, trainer.netG, trainer.netD
    enc_p, dec_p = list(netE.parameters()), list(netG.parameters())
    batch = next(trainer.batches)
    state = trainer.noise.get_state()
    fake = trainer.generate(batch)
    total = trainer.generator_loss(batch, fake)

    # the encoder's loss, computed the plain way: z ~ q(z|x) with the same ε, decoded by Dec
    trainer.noise.set_state(state)
    mu, logvar = netE(batch.x)
    z = VAE.reparameterize(mu, logvar, trainer.noise)
    with torch.no_grad():
        feat_x = netD.features(batch.x)
    enc_loss = 0.5 * kl_to_prior(mu, logvar) + feature_reconstruction(feat_x, netD.features(netG(z)))
    for a, b in zip(_grads(total, enc_p), _grads(enc_loss, enc_p)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)

    # the decoder's loss from the decoder's own fakes
    feat_rec = netD.features(fake["rec"])
    dec_loss = (3.0 * feature_reconstruction(feat_x, feat_rec)
                + decoder_gan_loss(netD.head(feat_rec).flatten(), netD(fake["prior"])))
    for a, b in zip(_grads(total, dec_p), _grads(dec_loss, dec_p)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_gamma_changes_the_decoder_not_the_encoder():
    grads = {}
    for gamma in (0.1, 10.0):
        trainer, _ = make_trainer(gamma=gamma)
        batch = next(trainer.batches)
        loss = trainer.generator_loss(batch, trainer.generate(batch))
        grads[gamma] = (_grads(loss, list(trainer.netE.parameters())),
                        _grads(loss, list(trainer.netG.parameters())))
    for a, b in zip(grads[0.1][0], grads[10.0][0]):
        torch.testing.assert_close(a, b)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0.1][1], grads[10.0][1]))


def test_discriminator_sees_three_kinds_of_images():
    trainer, _ = make_trainer()
    batch = next(trainer.batches)
    with torch.no_grad():
        fake = trainer.generate(batch)
        loss, real_s, fake_s = trainer.discriminator_loss(batch, fake)
        expected = three_way_d_loss(trainer.netD(batch.x), trainer.netD(fake["rec"]),
                                    trainer.netD(fake["prior"]))
    assert real_s.shape == (16,) and fake_s.shape == (32,)       # reconstructions and samples
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_resume_is_bit_exact(tmp_path):
    full, _ = make_trainer(steps=4)
    full.fit()
    ckpt = tmp_path / "vaegan.pt"
    half, _ = make_trainer(steps=2, checkpoint=ckpt)
    half.fit()
    resumed, _ = make_trainer(steps=4, checkpoint=ckpt)
    resumed.fit()
    for name in ("netG", "netD", "netE"):
        for a, b in zip(full.networks[name].state_dict().values(),
                        resumed.networks[name].state_dict().values()):
            torch.testing.assert_close(a, b)


def test_reconstruct_uses_the_posterior_mean_in_eval_mode():
    torch.manual_seed(0)
    vae = ConvVAE(z_dim=3, ndf=4, ngf=4)
    x = torch.rand(7, 1, 28, 28) * 2 - 1
    out = reconstruct(vae.encoder, vae.decoder, x, batch_size=3)
    vae.eval()
    with torch.no_grad():
        torch.testing.assert_close(out, vae.decoder(vae.encoder(x)[0]))
    vae.train()
    reconstruct(vae.encoder, vae.decoder, x)
    assert vae.encoder.training and vae.decoder.training          # modes restored
    with pytest.raises(ValueError, match="non-empty batch"):
        reconstruct(vae.encoder, vae.decoder, torch.zeros(0, 1, 28, 28))


def test_errors():
    vae = ConvVAE(z_dim=4, ndf=4, ngf=4)
    data = torch.zeros(32, 1, 28, 28)
    config = TrainConfig(steps=1, batch_size=16, z_dim=4, progress=False)
    with pytest.raises(TypeError, match="netD must have `features`"):
        VAEGANTrainer(vae.decoder, MLPDiscriminator((1, 28, 28)), data, config, encoder=vae.encoder)
    netD = DCGANDiscriminator(1, 28, ndf=4, norm="layer")
    with pytest.raises(ValueError, match="gamma .* must be positive"):
        VAEGANTrainer(vae.decoder, netD, data, config, encoder=vae.encoder, gamma=0)
    with pytest.raises(ValueError, match="beta .* must be >= 0"):
        VAEGANTrainer(vae.decoder, netD, data, config, encoder=vae.encoder, beta=-1)
    bad = TrainConfig(steps=1, batch_size=16, z_dim=4, loss="ragan", progress=False)
    with pytest.raises(ValueError, match="separable loss"):
        VAEGANTrainer(vae.decoder, netD, data, bad, encoder=vae.encoder)


def test_gradient_norms_table():
    """Each term reaches its own network only; the discriminator learns only from its own loss."""
    trainer, _ = make_trainer(gamma=2.0)
    table = trainer.gradient_norms()
    assert list(table) == ["β·L_prior", "L_llike (enc)", "γ·L_llike (dec)", "−L_GAN (dec)", "D's loss"]
    for term in ("β·L_prior", "L_llike (enc)"):
        assert table[term]["encoder"] > 0 and table[term]["decoder"] == 0
    for term in ("γ·L_llike (dec)", "−L_GAN (dec)"):
        assert table[term]["decoder"] > 0 and table[term]["encoder"] == 0
    assert table["D's loss"]["discriminator"] > 0
    assert table["D's loss"]["encoder"] == table["D's loss"]["decoder"] == 0
    assert all(math.isnan(table[t]["discriminator"]) for t in list(table)[:4])
    assert trainer.step == 0 and not trainer._buffer
