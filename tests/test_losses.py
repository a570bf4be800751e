import math

import pytest
import torch

from gancourse import losses as L


def test_bce_losses_match_the_value_function():
    r, f = torch.tensor([0.3, -1.2]), torch.tensor([0.5, 2.0])
    d_r, d_f = torch.sigmoid(r), torch.sigmoid(f)
    v = torch.log(d_r).mean() + torch.log(1 - d_f).mean()
    assert L.d_loss_bce(r, f).item() == pytest.approx(-v.item(), rel=1e-6)
    assert L.g_loss_minimax(f).item() == pytest.approx(torch.log(1 - d_f).mean().item(), rel=1e-6)
    assert L.g_loss_nonsaturating(f).item() == pytest.approx(-torch.log(d_f).mean().item(), rel=1e-6)


def test_bce_is_finite_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(L.d_loss_bce(big, big)) and torch.isfinite(L.g_loss_minimax(big))


def test_saturation_gradients():
    """At D(G(z)) ≈ 0 the minimax loss gives almost no gradient, the non-saturating one ≈ -1."""
    s = torch.tensor([-8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(L.g_loss_minimax(s), s)
    (g_ns,) = torch.autograd.grad(L.g_loss_nonsaturating(s), s)
    assert abs(g_mm.item()) == pytest.approx(torch.sigmoid(torch.tensor(-8.0)).item(), rel=1e-5)
    assert g_ns.item() == pytest.approx(-(1 - torch.sigmoid(torch.tensor(-8.0))).item(), rel=1e-5)
    assert abs(g_ns.item()) / abs(g_mm.item()) > 2000


def test_least_squares_hinge_and_wasserstein_values():
    r, f = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    assert L.d_loss_lsgan(r, f).item() == pytest.approx(0.5 * (0.5 + 2.0))
    assert L.g_loss_lsgan(f).item() == pytest.approx(0.5 * (1 + 1) / 2)
    assert L.d_loss_hinge(r, f).item() == pytest.approx(0.5 + 2.0)
    assert L.d_loss_wasserstein(r, f).item() == pytest.approx(1.0 - 0.5)
    assert L.g_loss_mean_score(f).item() == pytest.approx(-1.0)


def test_loss_registry():
    assert set(L.LOSSES) == {"minimax", "ns", "lsgan", "hinge", "wgan", "rsgan", "ragan", "softmax"}
    assert L.get_loss("ns").sigmoid and not L.get_loss("wgan").sigmoid
    separable = {k for k, v in L.LOSSES.items() if v.separable}
    assert separable == {"minimax", "ns", "lsgan", "hinge", "wgan"}
    assert {k for k, v in L.LOSSES.items() if v.needs_real} == {"rsgan", "ragan", "softmax"}
    with pytest.raises(ValueError, match="compares fakes with reals"):
        L.get_loss("rsgan").g_loss(torch.zeros(3))
    with pytest.raises(ValueError, match="valid losses are minimax, ns"):
        L.get_loss("bce")


class Linear2D(torch.nn.Module):
    """D(x) = w·x: its gradient norm is ‖w‖ everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_is_per_sample_norm_of_flattened_gradient():
    netD = Linear2D([3.0, 4.0, 0.0, 0.0])                   # ‖w‖ = 5
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    pen, norms = L.gradient_penalty(netD, real, fake)
    assert torch.allclose(norms, torch.full((6,), 5.0))
    assert pen.item() == pytest.approx((5 - 1) ** 2)
    pen.backward()                                          # differentiable w.r.t. D's weights
    # d/dw (‖w‖ - 1)² = 2 (‖w‖ - 1) w / ‖w‖
    assert torch.allclose(netD.w.grad, 2 * 4 * netD.w.detach() / 5)


def test_r1_and_dragan():
    netD = Linear2D([0.6, 0.8])
    real = torch.randn(5, 2)
    pen, norms = L.r1_penalty(netD, real)
    assert pen.item() == pytest.approx(1.0) and torch.allclose(norms, torch.ones(5))
    pen, _ = L.dragan_penalty(netD, real)
    assert pen.item() == pytest.approx(0.0, abs=1e-10)


def test_interpolates_lie_on_segments():
    real, fake = torch.zeros(100, 3), torch.ones(100, 3)
    x = L.interpolates(real, fake)
    assert torch.all((x >= 0) & (x <= 1))
    assert torch.allclose(x[:, 0], x[:, 1])                # one ε per sample, not per element
    assert x[:, 0].std() > 0.1


def test_clip_weights():
    lin = torch.nn.Linear(4, 4)
    torch.nn.init.normal_(lin.weight, 0, 10)
    L.clip_weights(lin, 0.01)
    assert lin.weight.abs().max().item() <= 0.01 + 1e-9
    assert math.isclose(lin.weight.abs().max().item(), 0.01, rel_tol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        L.clip_weights(lin, 0)


# ----------------------------------------------------------------------------- other variants
SP = {x: math.log1p(math.exp(x)) for x in (-2.0, -1.0, 0.0, 1.0, 2.0)}   # softplus by hand


def test_relativistic_standard_gan_hand_values():
    r, f = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    # pairs: s_r - s_f = 1, -2
    assert L.d_loss_rsgan(r, f).item() == pytest.approx((SP[-1.0] + SP[2.0]) / 2, rel=1e-6)
    assert L.g_loss_rsgan(f, r).item() == pytest.approx((SP[1.0] + SP[-2.0]) / 2, rel=1e-6)
    # softplus(t) - softplus(-t) = t, so L_D - L_G = -E(s_r - s_f) = 0.5
    assert (L.d_loss_rsgan(r, f) - L.g_loss_rsgan(f, r)).item() == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="equal shapes"):
        L.d_loss_rsgan(r, torch.zeros(3))
    with pytest.raises(ValueError, match="equal shapes"):
        L.g_loss_rsgan(torch.zeros(3), r)


def test_relativistic_average_gan_hand_values():
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])         # E s_r = 2, E s_f = 1
    # D: s_r - 1 = 0, 2 -> softplus(0), softplus(-2); s_f - 2 = -2, 0 -> softplus(-2), softplus(0)
    assert L.d_loss_ragan(r, f).item() == pytest.approx(math.log(2) + SP[-2.0], rel=1e-6)
    # G: s_f - 2 = -2, 0 -> softplus(2), softplus(0); s_r - 1 = 0, 2 -> softplus(0), softplus(2)
    assert L.g_loss_ragan(f, r).item() == pytest.approx(math.log(2) + SP[2.0], rel=1e-6)
    assert torch.isfinite(L.d_loss_ragan(torch.full((3,), 1e4), torch.full((5,), -1e4)))


def test_softmax_gan_hand_values():
    r, f = torch.full((2,), math.log(3.0)), torch.zeros(2)              # e^s = 3, 3, 1, 1
    assert L.d_loss_softmax(r, f).item() == pytest.approx(math.log(8 / 3), rel=1e-6)
    assert L.g_loss_softmax(f, r).item() == pytest.approx(math.log(8 / math.sqrt(3)), rel=1e-6)
    # equal scores everywhere: both losses are log|B| (G's minimum: D cannot tell them apart)
    z = torch.zeros(4)
    assert L.g_loss_softmax(z, z).item() == pytest.approx(math.log(8), rel=1e-6)
    assert L.d_loss_softmax(z, z).item() == pytest.approx(math.log(8), rel=1e-6)
    # D wins outright when fakes score -inf-ish: loss -> log|B+|
    assert L.d_loss_softmax(z, torch.full((4,), -1e4)).item() == pytest.approx(math.log(4), rel=1e-6)


def test_loss_sensitive_gan_hand_values():
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 1.0])
    margin = torch.tensor([1.0, 1.0])
    # E L(x) = 1.5; hinge terms [1 + 1 - 3]_+ = 0, [1 + 2 - 1]_+ = 2 -> mean 1
    assert L.d_loss_loss_sensitive(real, fake, margin).item() == pytest.approx(2.5)
    assert L.d_loss_loss_sensitive(real, fake, 1.0, weight=0.5).item() == pytest.approx(2.0)
    assert L.g_loss_loss_sensitive(fake).item() == pytest.approx(2.0)
