import math

import pytest
import torch

from gancourse.models.autoencoder import VAE, Autoencoder, ae_loss, train_autoencoder, vae_loss


def _images(n=64, size=8, seed=0):
    """(n, 1, size, size) smooth random blobs in [-1, 1]: easy to autoencode."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 2, 2, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")


def test_autoencoder_shapes_and_range():
    ae = Autoencoder(z_dim=5, hidden=(32,))
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    z = ae.encode(x)
    assert z.shape == (3, 5)
    out = ae(x)
    assert out.shape == (3, 1, 28, 28) and out.abs().max() <= 1
    assert torch.allclose(out, ae.decode(z))


def test_vae_shapes_and_decode_is_tanh_of_half_logits():
    vae = VAE(z_dim=4, image_shape=(1, 8, 8), hidden=(16, 8))
    x = _images(5)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 4)
    logits, mu2, _ = vae(x)
    assert logits.shape == x.shape and torch.equal(mu, mu2)
    z = torch.randn(5, 4)
    # tanh(l / 2) = 2 sigmoid(l) - 1: the image is the Bernoulli mean mapped to [-1, 1]
    assert torch.allclose(vae.decode(z), 2 * torch.sigmoid(vae.decode_logits(z)) - 1, atol=1e-6)
    s = vae.sample(7, generator=torch.Generator().manual_seed(0))
    assert s.shape == (7, 1, 8, 8) and s.abs().max() <= 1
    assert torch.equal(s, vae.sample(7, generator=torch.Generator().manual_seed(0)))


def test_reparameterize_matches_the_requested_gaussian():
    mu = torch.tensor([[2.0, -1.0]]).expand(40_000, 2)
    logvar = torch.log(torch.tensor([[0.25, 4.0]])).expand(40_000, 2)
    z = VAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.tensor([2.0, -1.0]), atol=0.03)
    assert torch.allclose(z.var(0), torch.tensor([0.25, 4.0]), rtol=0.03)
    # gradients flow to mu and logvar
    mu_p = torch.zeros(3, 2, requires_grad=True)
    lv_p = torch.zeros(3, 2, requires_grad=True)
    VAE.reparameterize(mu_p, lv_p).sum().backward()
    assert torch.equal(mu_p.grad, torch.ones(3, 2)) and lv_p.grad is not None


def test_vae_loss_known_values():
    x = torch.zeros(2, 1, 4, 4)                     # every pixel 0 -> target t = 0.5
    logits = torch.zeros_like(x)                    # pi = 0.5
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    out = vae_loss(logits, x, mu, logvar)
    # BCE(0.5, 0.5) = ln 2 per pixel, 16 pixels; q = p gives KL 0
    assert out["recon"].item() == pytest.approx(16 * math.log(2), rel=1e-6)
    assert out["kl"].item() == pytest.approx(0.0, abs=1e-7)
    # mu = 1, sigma = 1: KL = 1/2 per dimension
    out = vae_loss(logits, x, torch.ones(2, 3), logvar, beta=2.0)
    assert out["kl"].item() == pytest.approx(1.5)
    assert out["loss"].item() == pytest.approx(16 * math.log(2) + 2.0 * 1.5, rel=1e-6)


def test_vae_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    x = torch.rand(6, 1, 2, 2, generator=g) * 2 - 1
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
        torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
    kl = vae_loss(torch.zeros_like(x), x, mu, logvar)["kl"]
    assert kl.item() == pytest.approx(ref.item(), rel=1e-5)


def test_ae_loss_hand_case():
    x = torch.zeros(2, 1, 2, 2)
    assert ae_loss(x + 0.5, x).item() == pytest.approx(4 * 0.25)   # 4 pixels, (0.5)^2 each
    with pytest.raises(ValueError, match="same shape"):
        ae_loss(torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 3))


def test_fit_prior_and_sample():
    ae = Autoencoder(z_dim=3, image_shape=(1, 8, 8), hidden=(16,))
    with pytest.raises(RuntimeError, match="fit_prior"):
        ae.sample(2)
    x = _images(200)
    ae.fit_prior(x, batch_size=64)                     # several batches
    with torch.no_grad():
        codes = ae.encode(x)
    assert torch.allclose(ae.prior_mean, codes.mean(0), atol=1e-5)
    cov = ae.prior_scale_tril @ ae.prior_scale_tril.T
    assert torch.allclose(cov, torch.cov(codes.T) + 1e-5 * torch.eye(3), atol=1e-5)
    s = ae.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 8, 8) and s.abs().max() <= 1
    with pytest.raises(ValueError, match="at least 2 images"):
        ae.fit_prior(x[:1])


def _recon_error(model, x):
    with torch.no_grad():
        recon = model(x) if isinstance(model, Autoencoder) else model.decode(model.encode(x)[0])
    return (recon - x).pow(2).mean().item()


@pytest.mark.parametrize("cls", [Autoencoder, VAE])
def test_training_reduces_the_error_and_is_seeded(cls):
    x = _images(64)

    def run():
        torch.manual_seed(0)
        model = cls(z_dim=4, image_shape=(1, 8, 8), hidden=(32,))
        before = _recon_error(model, x)
        hist = train_autoencoder(model, x, steps=150, batch_size=16, lr=3e-3, beta=0.1,
                                 progress=False)
        return model, before, hist

    model, before, hist = run()
    assert _recon_error(model, x) < 0.3 * before
    assert len(hist["loss"]) == 150 and not model.training
    if cls is VAE:
        assert set(hist) == {"loss", "recon", "kl"}
    assert run()[2]["loss"] == hist["loss"]


def test_bad_inputs_are_clear_errors():
    vae = VAE(z_dim=4, image_shape=(1, 8, 8), hidden=(8,))
    with pytest.raises(ValueError, match=r"images of shape \(B, 1, 8, 8\), got \(2, 1, 28, 28\)"):
        vae.encode(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"codes of shape \(B, 4\)"):
        vae.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="z_dim >= 1"):
        VAE(z_dim=0)
    with pytest.raises(ValueError, match="hidden layer"):
        Autoencoder(hidden=())
    with pytest.raises(ValueError, match="beta"):
        vae_loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 4),
                 torch.zeros(1, 4), beta=-1.0)
    with pytest.raises(ValueError, match="mu and logvar"):
        vae_loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 4),
                 torch.zeros(1, 3))
    with pytest.raises(ValueError, match="steps"):
        train_autoencoder(vae, _images(16), steps=0)
    with pytest.raises(ValueError, match=r"images of shape"):
        train_autoencoder(vae, torch.zeros(16, 1, 28, 28), steps=1)
    with pytest.raises(TypeError, match="Autoencoder or a VAE"):
        train_autoencoder(torch.nn.Linear(2, 2), _images(16), steps=1)
