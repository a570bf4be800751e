"""Hand-checked values for the gradient penalties in gancourse.losses, and tests that
catch the two classic bugs: a per-pixel (instead of per-sample) norm and a gradient
computed without ``create_graph`` (the penalty then never reaches the critic)."""
import pytest
import torch
from torch import nn

from gancourse import losses as L


class LinearCritic(nn.Module):
    """D(x) = w · flatten(x) + b: ∇_x D = w everywhere, so ‖∇D‖ = ‖w‖ at every point."""

    def __init__(self, w: list[float]):
        super().__init__()
        self.lin = nn.Linear(len(w), 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w]))
            self.lin.bias.fill_(0.3)

    def forward(self, x):
        return self.lin(x.flatten(1)).squeeze(1)


class QuadraticCritic(nn.Module):
    """D(x) = a/2 ‖x‖²: ∇_x D = a x, so ‖∇D(x)‖ = a ‖x‖ depends on the point."""

    def __init__(self, a: float = 1.0):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x):
        return 0.5 * self.a * x.flatten(1).pow(2).sum(1)


def images(b=4, seed=0):
    return torch.randn(b, 1, 2, 2, generator=torch.Generator().manual_seed(seed))   # (B, 1, 2, 2)


def per_pixel_gp(netD, real, fake):
    """The classic bug: the norm over the channel axis only (per pixel), then averaged."""
    x = L.interpolates(real, fake).requires_grad_(True)
    (g,) = torch.autograd.grad(netD(x).sum(), x, create_graph=True)
    return (g.norm(2, dim=1) - 1).pow(2).mean()


def no_graph_gp(netD, real, fake):
    """The other classic bug: the gradient is a constant, so the penalty cannot train D."""
    x = L.interpolates(real, fake).requires_grad_(True)
    (g,) = torch.autograd.grad(netD(x).sum(), x)
    return (g.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def test_gradient_penalty_of_a_linear_critic_is_the_hand_value():
    netD = LinearCritic([0.0, 3.0, 0.0, 4.0])             # ‖w‖ = 5 -> (5 - 1)² = 16
    pen, norms = L.gradient_penalty(netD, images(seed=0), images(seed=1))
    assert pen.item() == pytest.approx(16.0)
    assert torch.allclose(norms, torch.full((4,), 5.0))
    assert not norms.requires_grad
    assert L.gradient_penalty(netD, images(), images(seed=1), target=5.0)[0].item() == pytest.approx(0.0)


def test_gradient_penalty_is_per_sample_not_per_pixel():
    netD = LinearCritic([0.0, 3.0, 0.0, 4.0])
    real, fake = images(seed=0), images(seed=1)
    # per pixel: |w_i| - 1 in (-1, 2, -1, 3) -> mean of squares (1 + 4 + 1 + 9) / 4 = 3.75
    assert per_pixel_gp(netD, real, fake).item() == pytest.approx(3.75)
    assert L.gradient_penalty(netD, real, fake)[0].item() != pytest.approx(3.75)


def test_gradient_penalty_trains_the_critic():
    """d/dw (‖w‖ - 1)² = 2 (‖w‖ - 1) w / ‖w‖ = 2·4·w/5: only with create_graph=True."""
    netD = LinearCritic([0.0, 3.0, 0.0, 4.0])
    pen, _ = L.gradient_penalty(netD, images(seed=0), images(seed=1))
    pen.backward()
    want = torch.tensor([[0.0, 3.0, 0.0, 4.0]]) * 8 / 5
    assert torch.allclose(netD.lin.weight.grad, want, atol=1e-5)
    assert netD.lin.bias.grad is None or netD.lin.bias.grad.abs().item() < 1e-7
    buggy = no_graph_gp(LinearCritic([0.0, 3.0, 0.0, 4.0]), images(seed=0), images(seed=1))
    assert buggy.item() == pytest.approx(16.0) and not buggy.requires_grad   # same value, no gradient


def test_gradient_penalty_at_interpolates_of_a_quadratic_critic():
    """With real == fake every interpolate is the point itself: ‖∇D‖ = a‖x‖ per sample."""
    netD = QuadraticCritic(a=2.0)
    x = images(b=6, seed=3)
    pen, norms = L.gradient_penalty(netD, x, x.clone())
    want = 2.0 * x.flatten(1).norm(dim=1)
    assert torch.allclose(norms, want, atol=1e-5)
    assert pen.item() == pytest.approx((want - 1).pow(2).mean().item(), rel=1e-5)
    pen.backward()                                          # d/da mean(( a r - 1)²) = mean(2(a r - 1) r)
    r = x.flatten(1).norm(dim=1)
    assert netD.a.grad.item() == pytest.approx((2 * (2 * r - 1) * r).mean().item(), rel=1e-5)


def test_interpolates_lie_on_the_segments_with_one_epsilon_per_sample():
    real, fake = images(b=5, seed=4), images(b=5, seed=5)
    x = L.interpolates(real, fake, generator=torch.Generator().manual_seed(0))
    eps = (x - fake) / (real - fake)                         # (B, 1, 2, 2), constant per sample
    assert torch.allclose(eps, eps[:, :1, :1, :1].expand_as(eps), atol=1e-4)
    assert ((eps >= 0) & (eps <= 1)).all()
    assert eps.flatten().unique().numel() > 1               # but differs between samples


def test_gradient_penalty_does_not_backpropagate_into_the_generator():
    fake = images(seed=1).requires_grad_(True)
    pen, _ = L.gradient_penalty(QuadraticCritic(), images(), fake)
    pen.backward()
    assert fake.grad is None


def test_r1_penalty_hand_values():
    pen, norms = L.r1_penalty(LinearCritic([1.0, 2.0, 2.0, 0.0]), images())   # ‖w‖² = 9
    assert pen.item() == pytest.approx(9.0) and torch.allclose(norms, torch.full((4,), 3.0))
    netD = QuadraticCritic(a=1.0)
    x = images(b=3, seed=6)
    pen, _ = L.r1_penalty(netD, x)                           # E ‖x‖², d/da = 2 a E ‖x‖²
    assert pen.item() == pytest.approx(x.flatten(1).pow(2).sum(1).mean().item(), rel=1e-5)
    pen.backward()
    assert netD.a.grad.item() == pytest.approx(2 * pen.item(), rel=1e-5)


def test_dragan_penalty_hand_values_and_neighbourhood():
    pen, norms = L.dragan_penalty(LinearCritic([0.0, 0.0, 2.0, 0.0]), images())   # (2 - 1)² = 1
    assert pen.item() == pytest.approx(1.0) and torch.allclose(norms, torch.full((4,), 2.0))
    # quadratic critic: ‖∇D‖ = ‖x + δ‖ with 0 <= δ_i <= c·std(x) per coordinate
    x = torch.zeros(200, 1, 2, 2)
    x[:100] = 1.0                                            # std(x) = 0.5013, two clusters
    _, norms = L.dragan_penalty(QuadraticCritic(), x, c=0.5)
    bound = 0.5 * x.std().item()
    assert (norms[100:] <= 2 * bound + 1e-6).all() and (norms[100:] > 0).all()
    assert (norms[:100] >= 2.0 - 1e-6).all() and (norms[:100] <= 2 * (1 + bound) + 1e-6).all()
    netD = LinearCritic([0.0, 0.0, 2.0, 0.0])
    L.dragan_penalty(netD, images())[0].backward()           # d/dw (‖w‖ - 1)² = 2·1·w/2
    assert torch.allclose(netD.lin.weight.grad, torch.tensor([[0.0, 0.0, 2.0, 0.0]]), atol=1e-5)


# -- one-sided gradient penalty -------------------------------------------------------------
def test_one_sided_penalty_is_zero_for_a_flat_critic_and_equal_above_one():
    flat = LinearCritic([0.0, 0.3, 0.0, 0.4])                # ‖w‖ = 0.5 < 1
    pen1, norms = L.gradient_penalty(flat, images(seed=0), images(seed=1), one_sided=True)
    assert pen1.item() == 0.0 and torch.allclose(norms, torch.full((4,), 0.5))
    pen2, _ = L.gradient_penalty(flat, images(seed=0), images(seed=1))
    assert pen2.item() == pytest.approx(0.25)                # two-sided: (0.5 - 1)²
    steep = LinearCritic([0.0, 3.0, 0.0, 4.0])               # ‖w‖ = 5 > 1: both give 16
    pen3, _ = L.gradient_penalty(steep, images(), images(seed=1), one_sided=True)
    assert pen3.item() == pytest.approx(16.0)


def test_one_sided_penalty_mixes_per_sample_and_trains_only_steep_samples():
    """Quadratic critic: ‖∇D(x)‖ = a‖x‖ differs per sample; only samples above 1 count."""
    netD = QuadraticCritic(a=1.0)
    x = torch.zeros(4, 1, 2, 2)
    x.view(4, -1)[:, 0] = torch.tensor([0.5, 0.8, 1.5, 3.0])   # norms 0.5, 0.8, 1.5, 3.0
    pen, norms = L.gradient_penalty(netD, x, x.clone(), one_sided=True)
    assert torch.allclose(norms, torch.tensor([0.5, 0.8, 1.5, 3.0]))
    assert pen.item() == pytest.approx((0.5 ** 2 + 2.0 ** 2) / 4)
    pen.backward()                                          # d/da = mean(2 (a r - 1)_+ r)
    assert netD.a.grad.item() == pytest.approx((2 * 0.5 * 1.5 + 2 * 2.0 * 3.0) / 4)


# -- DRAGAN perturbations -----------------------------------------------------------------
def test_dragan_reference_perturbation_is_one_sided_and_shifts_upwards():
    from gancourse.losses.penalties import dragan_perturbation
    real = torch.randn(500, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 2.0
    scale = 0.5 * real.std().item()
    d = dragan_perturbation(real, c=0.5, perturbation="reference", generator=torch.Generator().manual_seed(1))
    assert d.shape == real.shape
    assert (d >= 0).all() and (d <= scale + 1e-6).all()
    assert d.mean().item() == pytest.approx(scale / 2, rel=0.05)    # shifted by c·std/2 on average


def test_dragan_symmetric_perturbation_is_centred_with_the_right_scale():
    from gancourse.losses.penalties import dragan_perturbation
    real = torch.randn(2000, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 2.0
    scale = 0.5 * real.std().item()
    d = dragan_perturbation(real, c=0.5, perturbation="symmetric", generator=torch.Generator().manual_seed(1))
    assert abs(d.mean().item()) < 0.02 * scale
    assert d.std().item() == pytest.approx(scale, rel=0.02)
    assert (d < 0).float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_dragan_penalty_symmetric_variant_and_errors():
    netD = LinearCritic([0.0, 0.0, 2.0, 0.0])              # ‖∇D‖ = 2 everywhere: (2 - 1)² = 1
    pen, norms = L.dragan_penalty(netD, images(), perturbation="symmetric")
    assert pen.item() == pytest.approx(1.0) and torch.allclose(norms, torch.full((4,), 2.0))
    # quadratic critic around x = 0: the symmetric noise moves points both ways, the reference
    # noise only up; both stay within a few c·std(x) of the data
    x = torch.zeros(400, 1, 1, 1)
    x[:200] = 1.0
    _, n_sym = L.dragan_penalty(QuadraticCritic(), x, c=0.5, perturbation="symmetric")
    assert (n_sym[200:] > 0).all() and (n_sym[200:] < 6 * 0.5 * x.std().item()).all()
    with pytest.raises(ValueError, match="unknown DRAGAN perturbation 'gauss'.*reference, symmetric"):
        L.dragan_penalty(netD, images(), perturbation="gauss")
    with pytest.raises(ValueError, match="noise scale c must be positive"):
        L.dragan_penalty(netD, images(), c=0.0)
