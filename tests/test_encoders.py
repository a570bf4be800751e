"""Conv encoders, the conv decoder, and the conv autoencoder / VAE built from them."""

import pytest
import torch

from gancourse.models.autoencoder import VAE, Autoencoder, train_autoencoder, vae_loss
from gancourse.models.dcgan import DCGANGenerator
from gancourse.models.encoders import (
    ConvAutoencoder,
    ConvDecoder,
    ConvEncoder,
    ConvVAE,
    GaussianConvEncoder,
    MLPEncoder,
    conv_body,
)


@pytest.mark.parametrize("size,seed_res", [(28, 7), (32, 4), (64, 4)])
def test_conv_body_feature_count(size, seed_res):
    body, n = conv_body(3, size, ndf=8)
    out = body(torch.randn(2, 3, size, size))
    assert out.shape == (2, n)
    doublings = {28: 2, 32: 3, 64: 4}[size]
    assert n == 8 * 2 ** (doublings - 1) * seed_res ** 2


def test_encoders_shapes_and_errors():
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert ConvEncoder(z_dim=7, ndf=8)(x).shape == (5, 7)
    enc = GaussianConvEncoder(z_dim=7, ndf=8)
    mu, logvar = enc(x)
    assert mu.shape == logvar.shape == (5, 7)
    z = enc.sample(x, generator=torch.Generator().manual_seed(0))
    assert z.shape == (5, 7)
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 1, 28, 28\)"):
        ConvEncoder(z_dim=7, ndf=8)(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="code size must be >= 1"):
        ConvEncoder(z_dim=0)
    with pytest.raises(ValueError, match="image_size=30 is not supported"):
        ConvEncoder(z_dim=4, image_size=30)


def test_gaussian_encoder_sample_is_reparameterised():
    """z = μ + σ ε: with a fixed generator the draw equals the formula, and gradients reach the encoder."""
    torch.manual_seed(0)
    enc = GaussianConvEncoder(z_dim=3, ndf=4)
    x = torch.randn(4, 1, 28, 28)
    z = enc.sample(x, generator=torch.Generator().manual_seed(1))
    mu, logvar = enc(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)
    z.sum().backward()
    assert enc.fc.weight.grad is not None and enc.fc.weight.grad.abs().sum() > 0


def test_decoder_logits_are_the_images_bernoulli_logits():
    torch.manual_seed(0)
    dec = ConvDecoder(z_dim=6, ngf=8)
    z = torch.randn(3, 6)
    img, logits = dec(z), dec.logits(z)
    assert img.shape == logits.shape == (3, 1, 28, 28)
    torch.testing.assert_close(img, torch.tanh(logits / 2))                # x̂ = tanh(ℓ/2)
    torch.testing.assert_close((img + 1) / 2, torch.sigmoid(logits))        # mean pixel = σ(ℓ)
    assert isinstance(dec.generator, DCGANGenerator)
    with pytest.raises(ValueError, match=r"expected codes of shape \(B, 6\)"):
        dec(torch.randn(3, 5))


def test_conv_vae_is_a_vae_and_trains_with_train_autoencoder():
    torch.manual_seed(0)
    vae = ConvVAE(z_dim=4, ndf=4, ngf=4)
    assert isinstance(vae, VAE)
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    logits, mu, logvar = vae(x[:5])
    assert logits.shape == (5, 1, 28, 28) and mu.shape == (5, 4)
    def loss() -> float:
        logits, mu, logvar = vae(x, generator=torch.Generator().manual_seed(0))
        return vae_loss(logits, x, mu, logvar)["loss"].item()

    first = loss()
    hist = train_autoencoder(vae, x, steps=30, batch_size=32, lr=3e-3, progress=False)
    assert set(hist) == {"loss", "recon", "kl"}
    assert loss() < first
    assert vae.sample(6).shape == (6, 1, 28, 28)
    # the parts a VAE-GAN trains: encoder x -> (μ, log σ²), decoder z -> image
    mu2, _ = vae.encoder(x[:2])
    assert mu2.shape == (2, 4) and vae.decoder(mu2).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="image_shape must be"):
        ConvVAE(image_shape=(1, 28, 30))


def test_conv_autoencoder_is_an_autoencoder():
    torch.manual_seed(0)
    ae = ConvAutoencoder(z_dim=5, ndf=4, ngf=4)
    assert isinstance(ae, Autoencoder)
    x = torch.rand(40, 1, 28, 28) * 2 - 1
    assert ae.encode(x).shape == (40, 5) and ae(x).shape == x.shape
    hist = train_autoencoder(ae, x, steps=20, batch_size=20, lr=3e-3, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    ae.fit_prior(x)
    assert ae.sample(3).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 28, 28\)"):
        ae.encode(torch.randn(2, 1, 32, 32))


def test_mlp_encoder_deterministic_and_gaussian():
    torch.manual_seed(0)
    enc = MLPEncoder(z_dim=3, image_shape=(1, 28, 28), hidden=(16, 8))
    x = torch.randn(5, 1, 28, 28)
    assert enc(x).shape == (5, 3) and not enc.stochastic
    with pytest.raises(RuntimeError, match="gaussian=True"):
        enc.sample(x)
    genc = MLPEncoder(z_dim=2, image_shape=(1,), hidden=(8,), gaussian=True)   # flat toy data
    t = torch.randn(6, 1)
    mu, logvar = genc(t)
    assert mu.shape == logvar.shape == (6, 2) and genc.stochastic
    z = genc.sample(t, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1\)"):
        genc(torch.randn(6, 2))
    with pytest.raises(ValueError, match="hidden layers of size >= 1"):
        MLPEncoder(z_dim=2, hidden=())
    assert ConvEncoder.stochastic is False and GaussianConvEncoder.stochastic is True
