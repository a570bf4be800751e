import math

import pytest
import torch
from torch import nn

from gancourse.gans import lipschitz as Lz
from gancourse.models import DCGANDiscriminator, MLPDiscriminator


def test_power_iteration_matches_svd_and_returns_singular_vectors():
    W = torch.randn(12, 7, generator=torch.Generator().manual_seed(0))
    sigma, u, v = Lz.power_iteration(W, n_iter=200)
    assert sigma.item() == pytest.approx(torch.linalg.svdvals(W)[0].item(), rel=1e-5)
    assert torch.allclose(W @ v, sigma * u, atol=1e-4) and torch.allclose(W.t() @ u, sigma * v, atol=1e-4)


def test_power_iteration_on_a_diagonal_matrix_converges_at_the_known_rate():
    W = torch.diag(torch.tensor([3.0, 1.0]))
    u0 = torch.tensor([1.0, 1.0])
    # after k steps v ∝ (3^(2k-1), 1), so sigma_k = ‖W v‖ < 3 but increasing towards 3
    one = Lz.power_iteration(W, 1, u=u0)[0].item()
    assert one == pytest.approx(math.sqrt((9 * 9 + 1) / (9 + 1)), rel=1e-6)
    assert Lz.power_iteration(W, 10, u=u0)[0].item() == pytest.approx(3.0, rel=1e-6)


def test_power_iteration_reshapes_conv_weights_and_rejects_bad_input():
    w = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    assert Lz.weight_matrix(w).shape == (4, 12)
    assert Lz.power_iteration(w, 300)[0].item() == pytest.approx(
        torch.linalg.svdvals(w.reshape(4, 12))[0].item(), rel=1e-5)
    with pytest.raises(ValueError, match="n_iter"):
        Lz.power_iteration(w, 0)
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        Lz.power_iteration(w, 3, u=torch.ones(3))
    with pytest.raises(ValueError, match=">= 2 dimensions"):
        Lz.weight_matrix(torch.ones(3))


def test_conv_operator_norm_matches_the_dense_operator():
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    n = 2 * 5 * 5
    dense = torch.func.jacrev(lambda z: nn.functional.conv2d(
        z.view(1, 2, 5, 5), conv.weight, None, 2, 1).flatten())(torch.zeros(n))   # (out, n)
    want = torch.linalg.svdvals(dense)[0].item()
    assert Lz.conv_operator_norm(conv, (2, 5, 5), n_iter=300).item() == pytest.approx(want, rel=1e-4)
    with pytest.raises(ValueError, match="C = 2"):
        Lz.conv_operator_norm(conv, (3, 5, 5))
    with pytest.raises(TypeError, match="Conv2d"):
        Lz.conv_operator_norm(nn.Linear(2, 2), (2, 5, 5))


def test_layer_norms_and_product_bound_of_an_mlp():
    torch.manual_seed(3)
    net = MLPDiscriminator(3, hidden=(8, 8))
    norms = Lz.layer_spectral_norms(net, n_iter=300)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert list(norms) == ["net.0", "net.2", "net.4"]
    for got, m in zip(norms.values(), linears):
        assert got == pytest.approx(torch.linalg.svdvals(m.weight.detach())[0].item(), rel=1e-4)
    bound = Lz.lipschitz_product_bound(net, n_iter=300)
    assert bound == pytest.approx(math.prod(norms.values()), rel=1e-4)
    x = torch.randn(256, 3)
    assert Lz.input_grad_norms(net, x).max().item() <= bound * (1 + 1e-5)


def test_input_grad_norms_of_a_linear_function():
    lin = nn.Linear(4, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))
    assert torch.allclose(Lz.input_grad_norms(lin, torch.randn(5, 4)), torch.full((5,), 5.0))


def test_product_bound_refuses_normalisation_layers_and_layerless_nets():
    with pytest.raises(ValueError, match="GroupNorm"):
        Lz.lipschitz_product_bound(DCGANDiscriminator(1, 28, 4, norm="layer"))
    with pytest.raises(ValueError, match="no Linear or Conv"):
        Lz.layer_spectral_norms(nn.ReLU())
    with pytest.raises(ValueError, match="no Linear or Conv"):
        Lz.apply_spectral_norm(nn.Sequential(nn.ReLU()))


def test_conv_norms_with_an_example_use_the_operator():
    torch.manual_seed(4)
    netD = DCGANDiscriminator(1, 28, 4, norm=None)
    x = torch.randn(2, 1, 28, 28)
    as_matrix = Lz.layer_spectral_norms(netD, n_iter=100)
    as_operator = Lz.layer_spectral_norms(netD, x, n_iter=100)
    first = netD.features[0]
    assert as_operator["features.0"] == pytest.approx(
        Lz.conv_operator_norm(first, (1, 28, 28), n_iter=100).item(), rel=1e-5)
    assert as_matrix["features.0"] != pytest.approx(as_operator["features.0"], rel=1e-2)
    assert Lz.input_grad_norms(netD, x).max().item() <= Lz.lipschitz_product_bound(netD, x, 100) * 1.001


def test_apply_spectral_norm_makes_every_layer_norm_one():
    torch.manual_seed(5)
    netD = Lz.apply_spectral_norm(DCGANDiscriminator(1, 28, 4, norm=None))
    assert all(hasattr(m, "parametrizations") for m in netD.modules() if isinstance(m, Lz.LAYERS))
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):                                  # one power-iteration step per forward
        netD(x)
    norms = Lz.layer_spectral_norms(netD.eval(), n_iter=300)
    assert all(v == pytest.approx(1.0, abs=1e-3) for v in norms.values())
    assert Lz.lipschitz_product_bound(netD) == pytest.approx(1.0, abs=3e-3)


def test_layer_grad_norms_plain_and_parametrized():
    lin = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        lin[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="backward"):
        Lz.layer_grad_norms(lin)
    x = torch.tensor([[3.0, 4.0]])
    lin(x).sum().backward()                              # dL/dW = x
    assert Lz.layer_grad_norms(lin) == {"0": pytest.approx(5.0)}
    sn = Lz.apply_spectral_norm(nn.Sequential(nn.Linear(2, 1)))
    sn(x).sum().backward()
    assert Lz.layer_grad_norms(sn)["0"] > 0


def test_weights_and_share_at_bound_after_clipping():
    net = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.linspace(-1, 1, 100).view(10, 10))
        net[2].weight.fill_(0.0)
        for p in net.parameters():
            p.clamp_(-0.5, 0.5)
    w = Lz.layer_weights(net)
    assert list(w) == ["0", "2"] and w["0"].shape == (100,)
    # linspace(-1, 1, 100): 25 values <= -0.5 and 25 >= 0.5 are clipped, out of 110 weights
    assert Lz.share_at_bound(net, 0.5) == pytest.approx(50 / 110)
    with pytest.raises(ValueError, match="positive"):
        Lz.share_at_bound(net, 0.0)
