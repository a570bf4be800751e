import math

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import losses
from gancourse.divergences import pearson_chi2
from gancourse.gans import least_squares as ls


def linear_d(w: float, b: float) -> nn.Module:
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(w)
        lin.bias.fill_(b)
    return nn.Sequential(lin, nn.Flatten(0))


def test_losses_hand_computed():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # ½ * (mean((0, 4)) + mean((1, 1))) with a = -1, b = 1
    assert losses.d_loss_ls(real, fake, a=-1.0, b=1.0).item() == pytest.approx(0.5 * (2.0 + 1.0))
    # ½ * mean((0 - 0)², (-2 - 0)²) = 1 with c = 0
    assert losses.g_loss_ls(fake, c=0.0).item() == pytest.approx(1.0)
    assert ls.chi2_objective(real, fake, c=0.0).item() == pytest.approx(0.5 * (5.0 + 2.0))


def test_defaults_are_the_package_lsgan_pair():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, generator=g), torch.randn(5, generator=g)
    assert torch.allclose(losses.d_loss_ls(real, fake), losses.d_loss_lsgan(real, fake))
    assert torch.allclose(losses.g_loss_ls(fake), losses.g_loss_lsgan(fake))


def test_optimal_discriminator_values_and_errors():
    d = ls.optimal_discriminator([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], a=-1.0, b=1.0)
    assert d[:3].tolist() == [1.0, -1.0, 0.0] and math.isnan(d[3])
    with pytest.raises(ValueError, match="same shape"):
        ls.optimal_discriminator([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        ls.optimal_discriminator([-1.0], [1.0])


def test_objective_at_optimum_is_pearson_chi2_to_the_mixture():
    x = np.linspace(-10, 10, 4001)
    dx = x[1] - x[0]
    p_d = np.exp(-0.5 * (x - 1) ** 2) / math.sqrt(2 * math.pi)
    p_g = np.exp(-0.5 * ((x + 1) / 1.5) ** 2) / (1.5 * math.sqrt(2 * math.pi))
    d_star = ls.optimal_discriminator(p_d, p_g, a=-1.0, b=1.0)
    c_g = 0.5 * np.sum((p_d + p_g) * d_star ** 2) * dx                  # c = 0
    chi2 = pearson_chi2(p_g, 0.5 * (p_d + p_g), dx=dx)
    assert c_g == pytest.approx(chi2, rel=1e-6)
    assert c_g == pytest.approx(0.5 * np.sum((p_d - p_g) ** 2 / (p_d + p_g)) * dx, rel=1e-9)
    # identical densities: D* = 0 everywhere and the divergence is 0
    assert np.allclose(ls.optimal_discriminator(p_d, p_d, a=-1.0, b=1.0), 0.0)


def test_generator_gradients_match_closed_forms_for_a_linear_discriminator():
    w, b = 2.0, -0.5
    netD = linear_d(w, b)
    x = torch.tensor([[-3.0], [0.0], [4.0], [8.0]])
    s = w * x.squeeze(1) + b
    ns = ls.generator_input_gradients(netD, x, losses.g_loss_nonsaturating)
    assert torch.allclose(ns, torch.sigmoid(-s) * w, rtol=1e-5, atol=1e-12)
    mm = ls.generator_input_gradients(netD, x, losses.g_loss_minimax)
    assert torch.allclose(mm, torch.sigmoid(s) * w, rtol=1e-5)
    lsq = ls.generator_input_gradients(netD, x, losses.g_loss_lsgan)
    assert torch.allclose(lsq, (s - 1).abs() * w, rtol=1e-5)
    # far on the real side: the sigmoid loss saturates, least squares grows with the distance
    assert ns[-1] < 1e-5 < 1.0 < lsq[-1]


def test_generator_gradients_errors():
    with pytest.raises(ValueError, match="non-empty batch"):
        ls.generator_input_gradients(linear_d(1.0, 0.0), torch.zeros(0, 1), losses.g_loss_lsgan)
    with pytest.raises(ValueError, match="non-empty batch"):
        ls.generator_input_gradients(linear_d(1.0, 0.0), torch.zeros(3), losses.g_loss_lsgan)


def test_fit_discriminator_reaches_the_least_squares_solution():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(200, 1, generator=g) + 1, torch.randn(200, 1, generator=g) - 1
    netD = linear_d(0.0, 0.0)
    hist = ls.fit_discriminator(netD, real, fake, losses.d_loss_ls, steps=1500, lr=0.05)
    assert hist[-1] < hist[0]
    # closed-form least squares of targets 1 (real) / 0 (fake) on [x, 1]
    X = torch.cat([torch.cat([real, fake]), torch.ones(400, 1)], dim=1).double()
    y = torch.cat([torch.ones(200), torch.zeros(200)]).double()
    coef = torch.linalg.lstsq(X, y).solution
    lin = netD[0]
    assert lin.weight.item() == pytest.approx(coef[0].item(), abs=1e-3)
    assert lin.bias.item() == pytest.approx(coef[1].item(), abs=1e-3)


def test_fit_discriminator_minibatches_and_errors():
    real, fake = torch.ones(10, 1), -torch.ones(10, 1)
    hist = ls.fit_discriminator(linear_d(0.0, 0.0), real, fake, losses.d_loss_ls, steps=50,
                                batch_size=4, seed=1)
    assert len(hist) == 50 and hist[-1] < hist[0]
    with pytest.raises(ValueError, match="steps"):
        ls.fit_discriminator(linear_d(0.0, 0.0), real, fake, losses.d_loss_ls, steps=0)
    with pytest.raises(ValueError, match="non-empty"):
        ls.fit_discriminator(linear_d(0.0, 0.0), real[:0], fake, losses.d_loss_ls)
    with pytest.raises(ValueError, match="batch_size"):
        ls.fit_discriminator(linear_d(0.0, 0.0), real, fake, losses.d_loss_ls, batch_size=0)
