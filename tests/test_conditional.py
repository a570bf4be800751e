import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancourse import losses
from gancourse.gans.conditional import (
    ConcatDiscriminator,
    ConditionalGANTrainer,
    ConditionalGenerator,
    ProjectionDiscriminator,
    check_labels,
    wrong_labels,
)
from gancourse.losses import d_loss_conditional
from gancourse.training import TrainConfig


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3)])
def test_shapes_and_range(size, channels):
    torch.manual_seed(0)
    netG = ConditionalGenerator(z_dim=8, num_classes=5, channels=channels, image_size=size, ngf=8)
    y = torch.tensor([0, 1, 4])
    fake = netG(torch.randn(3, 8), y)
    assert fake.shape == (3, channels, size, size) and fake.abs().max() <= 1
    for netD in (ConcatDiscriminator(5, channels, size, ndf=8),
                 ProjectionDiscriminator(5, channels, size, ndf=8)):
        assert netD(fake, y).shape == (3,)


def test_generator_uses_the_label_and_blends_embeddings():
    torch.manual_seed(0)
    netG = ConditionalGenerator(z_dim=8, num_classes=4, ngf=8, embed_dim=6).eval()
    z = torch.randn(1, 8).expand(4, 8)
    out = netG(z, torch.arange(4))
    assert not torch.allclose(out[0], out[1])                  # same z, other class
    e = netG.embed(torch.tensor([2]))
    assert torch.allclose(netG.from_embedding(z[:1], e), out[2:3])
    half = 0.5 * (netG.embed(torch.tensor([0])) + netG.embed(torch.tensor([1])))
    assert netG.from_embedding(z[:1], half).shape == (1, 1, 28, 28)


def test_concat_discriminator_label_maps():
    netD = ConcatDiscriminator(num_classes=3, ndf=8)
    maps = netD.label_maps(torch.tensor([2, 0]))
    assert maps.shape == (2, 3, 28, 28)
    assert maps[0, 2].eq(1).all() and maps[0, :2].eq(0).all() and maps[1, 0].eq(1).all()
    torch.manual_seed(0)
    netD = ConcatDiscriminator(num_classes=3, ndf=8).eval()
    x = torch.randn(1, 1, 28, 28).expand(3, 1, 28, 28)
    scores = netD(x, torch.arange(3))
    assert scores.unique().numel() == 3                        # the label changes the score
    assert netD.body.features[0].in_channels == 1 + 3


def test_projection_decomposition():
    """D(x, y) = psi(phi(x)) + V(y).phi(x): realism ignores y, match is the inner product."""
    torch.manual_seed(0)
    netD = ProjectionDiscriminator(num_classes=4, ndf=8).eval()
    with torch.no_grad():
        netD.embed.weight.normal_()                            # make the match term visible
        x = torch.randn(2, 1, 28, 28)
        h = netD.phi(x)
        assert h.shape == (2, 16 * 7 * 7) == (2, netD.feature_dim)   # width 2 * ndf, 7x7 map
        psi_w = netD.psi.weight.flatten()                      # the head is linear in phi
        for k in range(4):
            y = torch.full((2,), k)
            realism, match = netD.parts(x, y)
            assert torch.allclose(realism, h @ psi_w + netD.psi.bias, atol=1e-5)
            assert torch.allclose(match, h @ netD.embed.weight[k], atol=1e-5)
            assert torch.allclose(netD(x, y), realism + match)
        r0, m0 = netD.parts(x, torch.zeros(2, dtype=torch.long))
        r1, m1 = netD.parts(x, torch.ones(2, dtype=torch.long))
        assert torch.equal(r0, r1) and not torch.allclose(m0, m1)
        diff = netD(x, torch.ones(2, dtype=torch.long)) - netD(x, torch.zeros(2, dtype=torch.long))
        assert torch.allclose(diff, h @ (netD.embed.weight[1] - netD.embed.weight[0]), atol=1e-4)


def test_model_input_errors():
    netG = ConditionalGenerator(z_dim=4, num_classes=3, ngf=8)
    netD = ProjectionDiscriminator(num_classes=3, ndf=8)
    z, x = torch.randn(2, 4), torch.randn(2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        netG(z, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        netD(x, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        ConcatDiscriminator(3, ndf=8)(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        netD(torch.randn(2, 1, 32, 32), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 4\)"):
        netG(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"embedding must have shape \(2, 3\)"):
        netG.from_embedding(z, torch.randn(2, 4))
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ConditionalGenerator(num_classes=1)
    with pytest.raises(ValueError, match="valid sizes"):
        ConcatDiscriminator(3, image_size=30)
    check_labels(torch.tensor([0, 2]), 3, 2)                   # valid: no error


# ----------------------------------------------------------------------------- wrong labels
def test_wrong_labels_never_equal_and_uniform():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(10).repeat(2000)                          # (20000,)
    y_wrong = wrong_labels(y, 10, generator=g)
    assert y_wrong.shape == y.shape and y_wrong.dtype == y.dtype
    assert (y_wrong != y).all()
    assert y_wrong.min() >= 0 and y_wrong.max() <= 9
    for k in range(10):                                        # each wrong class ~ 1/9
        counts = torch.bincount(y_wrong[y == k], minlength=10).float() / 2000
        assert counts[k] == 0
        assert torch.allclose(counts[torch.arange(10) != k], torch.full((9,), 1 / 9), atol=0.03)
    again = wrong_labels(y, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, y_wrong)                         # reproducible
    assert torch.equal(wrong_labels(torch.tensor([0, 1, 1]), 2), torch.tensor([1, 0, 0]))


def test_wrong_labels_errors():
    with pytest.raises(ValueError, match="num_classes >= 2"):
        wrong_labels(torch.tensor([0]), 1)
    with pytest.raises(ValueError, match="integer"):
        wrong_labels(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        wrong_labels(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="1-D"):
        wrong_labels(torch.zeros(2, 2, dtype=torch.long), 3)


# ----------------------------------------------------------------------------- loss
@pytest.mark.parametrize("name", [k for k, v in losses.LOSSES.items() if v.separable])
def test_d_loss_is_the_sum_of_its_real_and_fake_halves(name):
    """d_loss(r, f) = mean real_term(r) + mean fake_term(f), so the mismatched pairs' term is
    the fake half: d_loss(r, f) - d_loss(r, f') = mean fake_term(f) - mean fake_term(f')."""
    g = torch.Generator().manual_seed(1)
    r, f, f2 = (torch.randn(7, generator=g) * 2 for _ in range(3))
    loss = losses.get_loss(name)
    assert torch.allclose(loss.d_loss(r, f), loss.real_term(r).mean() + loss.fake_term(f).mean(), atol=1e-6)
    assert torch.allclose(loss.d_loss(r, f) - loss.d_loss(r, f2),
                          loss.fake_term(f).mean() - loss.fake_term(f2).mean(), atol=1e-6)


@pytest.mark.parametrize("name", [k for k, v in losses.LOSSES.items() if not v.separable])
def test_mismatched_pairs_refuse_a_coupled_loss(name):
    s = torch.zeros(4)
    with pytest.raises(ValueError, match="separate real and fake halves"):
        d_loss_conditional(s, s, s, 1.0, loss=name)


def test_d_loss_conditional_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5])
    mismatch = torch.tensor([1.0, -3.0])
    expected = ((softplus(-2.0) + softplus(1.0)) / 2 + softplus(0.5)
                + 0.5 * (softplus(1.0) + softplus(-3.0)) / 2)
    assert d_loss_conditional(real, fake, mismatch, 0.5).item() == pytest.approx(expected, rel=1e-6)
    zeros = torch.zeros(4)
    assert d_loss_conditional(zeros, zeros, zeros, 1.0).item() == pytest.approx(3 * math.log(2))
    assert torch.allclose(d_loss_conditional(real, fake, mismatch, 0.0), losses.d_loss_bce(real, fake))
    # hinge: mean(max(0, 1 - r)) + mean(max(0, 1 + f)) + w * mean(max(0, 1 + m))
    hinge = d_loss_conditional(real, fake, mismatch, 2.0, loss="hinge").item()
    assert hinge == pytest.approx((0 + 2) / 2 + 1.5 + 2 * (2 + 0) / 2)


def test_d_loss_conditional_errors():
    s = torch.zeros(3)
    with pytest.raises(ValueError, match="mismatch_weight"):
        d_loss_conditional(s, s, s, -1.0)
    with pytest.raises(ValueError, match="mismatch_weight"):
        d_loss_conditional(s, s, s, float("nan"))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        d_loss_conditional(s, s, torch.zeros(0))
    with pytest.raises(ValueError, match="unknown loss"):
        d_loss_conditional(s, s, s, loss="bce")


# ----------------------------------------------------------------------------- trainer
class ToyG(nn.Module):
    """G(z, y) = class centre + small learned offset of z (2-D)."""

    def __init__(self, k: int):
        super().__init__()
        self.embed = nn.Embedding(k, 16)
        self.net = nn.Sequential(nn.Linear(2 + 16, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, z, y):
        return self.net(torch.cat([z, self.embed(y)], 1))


class ToyD(nn.Module):
    """D(x, y) = MLP([x, onehot(y)])."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.net = nn.Sequential(nn.Linear(2 + k, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

    def forward(self, x, y):
        return self.net(torch.cat([x, F.one_hot(y, self.k).float()], 1)).flatten()


def toy_data(n: int = 512, k: int = 3):
    """Batches (x, y): class c sits at angle 2 pi c / k on the unit circle (std 0.05)."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % k
    angle = 2 * math.pi * y / k
    x = torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * torch.randn(n, 2, generator=g)

    def batch(b: int):
        idx = torch.randint(0, n, (b,), generator=g)
        return x[idx], y[idx]

    return batch


def make_trainer(mismatch: bool, steps: int = 5, **kw):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, batch_size=64, z_dim=2, progress=False, n_samples=9,
                      lr_g=2e-3, lr_d=2e-3, **kw)
    return ConditionalGANTrainer(ToyG(3), ToyD(3), toy_data(), cfg, num_classes=3,
                                 mismatch=mismatch, device="cpu")


@pytest.mark.parametrize("mismatch", [True, False])
def test_trainer_runs_both_ways_and_logs_d_mismatch(mismatch):
    trainer = make_trainer(mismatch)
    h = trainer.fit()
    assert len(h["D_mismatch"]) == 5 and all(0 <= v <= 1 for v in h["D_mismatch"])
    assert trainer.snapshots[-1][1].shape == (9, 2)
    assert trainer.optD.state_dict()["state"][0]["step"].item() == 5


def test_mismatch_term_changes_the_update_and_teaches_d_the_label():
    with_mm, without = make_trainer(True, steps=1), make_trainer(False, steps=1)
    with_mm.fit()
    without.fit()
    w1, w2 = with_mm.netD.net[0].weight, without.netD.net[0].weight
    assert not torch.allclose(w1, w2)                          # the extra term reached D's update
    trained = make_trainer(True, steps=250)
    h = trained.fit()
    tail = slice(-30, None)
    real, mis = (sum(h[k][tail]) / 30 for k in ("D_real", "D_mismatch"))
    assert mis < 0.5 * real, (real, mis)                       # wrong labels are rejected


def test_trainer_with_a_penalty_and_hinge_loss():
    trainer = make_trainer(True, steps=3, loss="hinge", penalty="r1", penalty_weight=1.0)
    h = trainer.fit()
    assert len(h["penalty"]) == 3 and all(v >= 0 for v in h["penalty"])
    assert all(math.isfinite(v) for v in h["D_mismatch"])     # raw scores for hinge


def test_trainer_errors():
    cfg = TrainConfig(steps=2, batch_size=8, z_dim=2, progress=False, n_samples=4)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        ConditionalGANTrainer(ToyG(3), ToyD(3), toy_data(), cfg, num_classes=1, device="cpu")
    with pytest.raises(ValueError, match="mismatch_weight"):
        ConditionalGANTrainer(ToyG(3), ToyD(3), toy_data(), cfg, num_classes=3,
                              mismatch_weight=-0.5, device="cpu")
    unlabelled = ConditionalGANTrainer(ToyG(3), ToyD(3), torch.randn(32, 2), cfg, num_classes=3,
                                       device="cpu")
    with pytest.raises(ValueError, match="labelled data"):
        unlabelled.fit()
