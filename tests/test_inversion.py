"""gancourse.analysis.inversion: back to z by optimisation, by an encoder, and both (notebook 17)."""

import pytest
import torch
from torch import nn

from gancourse.analysis import inversion as inv
from gancourse.analysis.latent import generate
from gancourse.models import DCGANGenerator
from gancourse.models.encoders import ConvEncoder


class LinearG(nn.Module):
    """G(z) = tanh-free linear map to 28x28 images: inverting it is a least-squares problem."""

    def __init__(self, z_dim: int = 4):
        super().__init__()
        self.z_dim = z_dim
        self.fc = nn.Linear(z_dim, 28 * 28)
        torch.nn.init.normal_(self.fc.weight, std=0.1)

    def forward(self, z):
        return self.fc(z).view(-1, 1, 28, 28)


def small_g(z_dim: int = 4, seed: int = 0) -> DCGANGenerator:
    torch.manual_seed(seed)
    return DCGANGenerator(z_dim=z_dim, ngf=8).eval()


def test_masked_mse_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    y = torch.tensor([[1.0, 1.0], [3.0, 3.0]]).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    y[1] = 2.0
    assert torch.allclose(inv.masked_mse(y, x), torch.tensor([5.0, 4.0]))        # (1+1+9+9)/4, 4
    top = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    assert torch.allclose(inv.masked_mse(y, x, top), torch.tensor([1.0, 4.0]))   # only the top row counts
    assert torch.allclose(inv.masked_mse(y, x, 1 - top), torch.tensor([9.0, 4.0]))


@pytest.mark.parametrize("mask,match", [(torch.full((1, 1, 2, 2), 0.5), "0 .hidden"),
                                        (torch.zeros(1, 1, 2, 2), "at least one known pixel"),
                                        (torch.ones(3, 1, 2, 2), "does not broadcast")])
def test_masked_mse_refuses_bad_masks(mask, match):
    x = torch.zeros(2, 1, 2, 2)
    with pytest.raises(ValueError, match=match):
        inv.masked_mse(x, x, mask)


def test_masked_mse_refuses_mismatched_images():
    with pytest.raises(ValueError, match="same shape"):
        inv.masked_mse(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 2, 2))


def test_invert_recovers_z_of_a_linear_generator_from_a_random_start():
    torch.manual_seed(0)
    netG = LinearG(4)
    z_true = torch.randn(8, 4)
    x = generate(netG, z_true)
    res = inv.invert(netG, x, steps=400, lr=0.05, seed=1)
    assert res.z.shape == (8, 4) and res.images.shape == (8, 1, 28, 28) and res.error.shape == (8,)
    assert res.curve.shape == (401,)
    assert torch.allclose(res.z, z_true, atol=1e-2)
    assert res.error.max() < 1e-5 and res.curve[-1] < 1e-3 * res.curve[0]


def test_invert_recovers_z_of_dcgan_own_samples():
    """The lesson's package check: G's own samples are inverted almost exactly (several starts)."""
    netG = small_g(z_dim=4)
    z_true = torch.randn(4, 4, generator=torch.Generator().manual_seed(3))
    x = generate(netG, z_true)
    res = inv.invert(netG, x, steps=200, lr=0.05, starts=4, seed=0)
    assert res.error.max() < 1e-3
    rel = (res.z - z_true).norm(dim=1) / z_true.norm(dim=1)
    assert rel.median() < 0.05
    # from a nearby start (the encoder's job) every code is recovered
    z0 = z_true + 0.3 * torch.randn(4, 4, generator=torch.Generator().manual_seed(4))
    near = inv.invert(netG, x, z0=z0, steps=200, lr=0.02)
    assert ((near.z - z_true).norm(dim=1) / z_true.norm(dim=1)).max() < 0.05


def test_invert_leaves_the_generator_as_it_was():
    netG = small_g()
    netG.train()
    before = {k: v.clone() for k, v in netG.state_dict().items() if "running" not in k}
    inv.invert(netG, torch.zeros(3, 1, 28, 28), steps=5)
    assert netG.training and all(p.requires_grad for p in netG.parameters())
    after = netG.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_more_starts_never_do_worse_than_the_first():
    """Start 0 of ``starts=4`` is the single start of the same seed; the best of four is kept."""
    netG = small_g(z_dim=6, seed=1)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    one = inv.invert(netG, x, steps=30, seed=7)
    four = inv.invert(netG, x, steps=30, seed=7, starts=4)
    assert (four.error <= one.error + 1e-4).all()          # batch sizes differ: rounding only


def test_a_strong_prior_pulls_the_code_to_zero():
    netG = small_g()
    x = generate(netG, torch.randn(4, 4) * 2)
    free = inv.invert(netG, x, steps=100, seed=0)
    held = inv.invert(netG, x, steps=100, seed=0, prior_weight=10.0)
    assert held.z.norm(dim=1).max() < 0.2 * free.z.norm(dim=1).min()


def test_invert_with_a_mask_only_fits_the_known_pixels():
    torch.manual_seed(0)
    netG = LinearG(4)
    z_true = torch.randn(4, 4)
    x = generate(netG, z_true)
    x_damaged = x.clone()
    x_damaged[:, :, 14:] = 1.0                                    # the bottom half is wrong
    top = torch.zeros(1, 1, 28, 28)
    top[:, :, :14] = 1
    res = inv.invert(netG, x_damaged, mask=top, steps=400, seed=0)
    assert torch.allclose(res.z, z_true, atol=2e-2)               # the damage is ignored
    assert res.error.max() < 1e-4


@pytest.mark.parametrize("kwargs,match", [
    (dict(z0=torch.zeros(2, 4)), "one code per image"),
    (dict(z0=torch.zeros(3, 4), starts=2), "not both"),
    (dict(steps=-1), "steps >= 0"),
    (dict(lr=0.0), "lr > 0"),
])
def test_invert_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inv.invert(small_g(), torch.zeros(3, 1, 28, 28), **kwargs)


def test_invert_refuses_non_images():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        inv.invert(small_g(), torch.zeros(3, 28, 28))


def test_sample_pairs_are_seeded_pairs_of_g():
    netG = small_g()
    z, x = inv.sample_pairs(netG, 10, seed=5)
    assert z.shape == (10, 4) and x.shape == (10, 1, 28, 28)
    assert torch.allclose(x, generate(netG, z))
    assert torch.equal(inv.sample_pairs(netG, 10, seed=5)[0], z)
    assert not torch.equal(inv.sample_pairs(netG, 10, seed=6)[0], z)


def test_train_encoder_learns_to_invert_g_on_its_samples():
    netG = small_g(z_dim=2)
    z, x = inv.sample_pairs(netG, 2000, seed=0)
    torch.manual_seed(0)
    enc = ConvEncoder(2, ndf=8)
    losses = inv.train_encoder(enc, z, x, steps=300, batch_size=64, lr=2e-3, seed=0)
    assert len(losses) == 300 and not enc.training
    assert sum(losses[-30:]) / 30 < 0.3 * sum(losses[:30]) / 30
    z_test, x_test = inv.sample_pairs(netG, 200, seed=1)
    z_hat = inv.encode(enc, x_test)
    assert z_hat.shape == (200, 2)
    assert (z_hat - z_test).square().sum(1).mean() < 0.5 * z_test.square().sum(1).mean()


def test_train_encoder_refuses_mismatched_pairs():
    with pytest.raises(ValueError, match="one code per image"):
        inv.train_encoder(ConvEncoder(2, ndf=8), torch.zeros(5, 2), torch.zeros(4, 1, 28, 28))


def test_encode_restores_the_mode():
    enc = ConvEncoder(3, ndf=8).train()
    out = inv.encode(enc, torch.zeros(7, 1, 28, 28), batch_size=3)
    assert out.shape == (7, 3) and enc.training


def test_nearest_codes_uses_only_the_known_pixels():
    x = torch.zeros(1, 1, 4, 4)
    a = x.clone()
    a[:, :, 2:] = 1.0                     # top half equal to x, bottom half far
    b = x.clone()
    b[:, :, :2] = 0.5                     # bottom half equal, top half a little off
    pool_z = torch.tensor([[1.0], [2.0]])
    pool_x = torch.cat([a, b])
    top = torch.zeros(1, 1, 4, 4)
    top[:, :, :2] = 1
    assert inv.nearest_codes(pool_z, pool_x, x, top)[0, 0].item() == 1.0
    assert inv.nearest_codes(pool_z, pool_x, x, 1 - top)[0, 0].item() == 2.0
    assert inv.nearest_codes(pool_z, pool_x, x)[0, 0].item() == 2.0           # 8·0.25 < 8·1
    both = inv.nearest_codes(pool_z, pool_x, x, top, k=2)
    assert both.shape == (1, 2, 1) and both[0, :, 0].tolist() == [1.0, 2.0]


def test_nearest_codes_finds_an_exact_copy():
    netG = small_g()
    pool_z, pool_x = inv.sample_pairs(netG, 300, seed=0)
    found = inv.nearest_codes(pool_z, pool_x, pool_x[[17, 250]])[:, 0]
    assert torch.equal(found, pool_z[[17, 250]])
    with pytest.raises(ValueError, match="k must be"):
        inv.nearest_codes(pool_z, pool_x, pool_x[:2], k=301)
