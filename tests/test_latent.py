import math

import pytest
import torch
from torch import nn

from gancourse.analysis.latent import class_means, generate, interpolate, lerp, slerp, transfer
from gancourse.models import DCGANGenerator


def test_lerp_end_points_midpoint_and_path_shape():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    assert torch.equal(lerp(z0, z1, 0.0), z0) and torch.equal(lerp(z0, z1, 1.0), z1)
    assert torch.allclose(lerp(z0, z1, 0.5), torch.tensor([0.5, 1.5]))
    path = lerp(torch.zeros(4, 3), torch.ones(4, 3), torch.tensor([0.0, 0.25, 1.0]))
    assert path.shape == (3, 4, 3)
    assert torch.allclose(path[1], torch.full((4, 3), 0.25))


def test_slerp_quarter_circle_is_cos_sin():
    """Between e1 and e2 (Ω = π/2), slerp(t) = (cos(tπ/2), sin(tπ/2)): the unit circle."""
    e1, e2 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    path = slerp(e1, e2, t)                                             # (7, 2)
    expected = torch.stack([torch.cos(t * math.pi / 2), torch.sin(t * math.pi / 2)], 1)
    assert torch.allclose(path, expected, atol=1e-12)
    assert torch.allclose(path.norm(dim=1), torch.ones(7, dtype=torch.float64))
    # lerp's midpoint cuts inside the circle: norm 1/sqrt(2)
    assert lerp(e1, e2, 0.5).norm().item() == pytest.approx(1 / math.sqrt(2))


def test_slerp_keeps_the_norm_of_equal_norm_codes_and_hits_the_end_points():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(5, 64, generator=g), torch.randn(5, 64, generator=g)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)   # same norm per row
    path = slerp(z0, z1, torch.linspace(0, 1, 9))                             # (9, 5, 64)
    assert path.shape == (9, 5, 64)
    assert torch.allclose(path.norm(dim=-1), z0.norm(dim=-1).expand(9, 5), rtol=1e-5)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    # each row uses its own angle: row 2 alone gives the same path
    assert torch.allclose(slerp(z0[2], z1[2], 0.3), slerp(z0, z1, 0.3)[2])


def test_slerp_parallel_codes_fall_back_to_lerp():
    z0 = torch.tensor([1.0, 2.0, 2.0])
    out = slerp(z0, 3 * z0, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.isfinite(out).all()
    assert torch.allclose(out, lerp(z0, 3 * z0, torch.tensor([0.0, 0.5, 1.0])))


def test_slerp_rejects_opposite_zero_and_mismatched_codes():
    z = torch.tensor([1.0, 0.0])
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(z, -z, 0.5)
    with pytest.raises(ValueError, match="non-zero codes"):
        slerp(z, torch.zeros(2), 0.5)
    with pytest.raises(ValueError, match="same shape"):
        slerp(z, torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="float tensor"):
        lerp(torch.tensor([1, 2]), torch.tensor([3, 4]), 0.5)
    with pytest.raises(ValueError, match="1-D tensor"):
        lerp(z, z, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="finite"):
        lerp(z, z, float("nan"))


def test_interpolate_paths_and_errors():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = interpolate(z0, z1, 5)
    assert path.shape == (5, 2)
    assert torch.allclose(path[2], torch.tensor([1.0, 1.0]) / math.sqrt(2))     # slerp midpoint
    assert torch.allclose(interpolate(z0, z1, 3, method="lerp")[1], torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="valid methods are lerp, slerp"):
        interpolate(z0, z1, 5, method="cubic")
    with pytest.raises(ValueError, match="steps must be >= 2"):
        interpolate(z0, z1, 1)


def test_class_means_by_hand_with_an_empty_class():
    z = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0], [10.0, 10.0]])
    labels = torch.tensor([0, 0, 2, 2])
    means, counts = class_means(z, labels, num_classes=4)
    assert counts.tolist() == [2, 0, 2, 0]
    assert torch.allclose(means[0], torch.tensor([2.0, 1.0]))
    assert torch.allclose(means[2], torch.tensor([5.0, 7.5]))
    assert torch.isnan(means[1]).all() and torch.isnan(means[3]).all()


def test_class_means_rejects_bad_input():
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        class_means(z, torch.tensor([0, 1, 2]), num_classes=2)
    with pytest.raises(ValueError, match="integers of shape"):
        class_means(z, torch.tensor([0.0, 1.0, 1.0]), num_classes=2)
    with pytest.raises(ValueError, match="integers of shape"):
        class_means(z, torch.tensor([0, 1]), num_classes=2)
    with pytest.raises(ValueError, match=r"float tensor \(N, D\)"):
        class_means(torch.zeros(3), torch.tensor([0, 1, 1]), num_classes=2)


def test_transfer_swaps_the_class_mean():
    means = torch.tensor([[1.0, 1.0], [4.0, -1.0], [float("nan"), float("nan")]])
    z = torch.tensor([[1.5, 0.0], [0.0, 2.0]])                  # two codes of class 0
    moved = transfer(z, means, source=0, target=1)
    assert torch.allclose(moved, torch.tensor([[4.5, -2.0], [3.0, 0.0]]))
    # the mean of class 0 goes exactly to the mean of class 1; strength scales the step
    assert torch.allclose(transfer(means[0], means, 0, 1), means[1])
    assert torch.allclose(transfer(z, means, 0, 1, strength=0.5), z + 0.5 * (means[1] - means[0]))
    with pytest.raises(ValueError, match="no mean"):
        transfer(z, means, 0, 2)
    with pytest.raises(ValueError, match=r"outside \[0, 2\]"):
        transfer(z, means, 0, 3)
    with pytest.raises(ValueError, match=r"means must be \(K, D\)"):
        transfer(torch.zeros(2, 3), means, 0, 1)


def test_generate_uses_running_statistics_and_restores_the_mode():
    torch.manual_seed(0)
    netG = DCGANGenerator(z_dim=8, channels=1, image_size=28, ngf=4)
    netG.train()
    z = torch.randn(6, 8)
    together = generate(netG, z)
    alone = torch.cat([generate(netG, z[i:i + 1]) for i in range(6)])
    assert together.shape == (6, 1, 28, 28)
    assert torch.allclose(together, alone, atol=1e-6)            # no batch dependence in eval mode
    assert torch.allclose(generate(netG, z, batch_size=4), together, atol=1e-6)
    assert netG.training                                          # mode restored
    with pytest.raises(ValueError, match=r"codes \(N, D\)"):
        generate(netG, torch.randn(8))


def test_generate_restores_eval_mode_too():
    netG = nn.Sequential(nn.Linear(3, 2)).eval()
    out = generate(netG, torch.ones(2, 3))
    assert out.shape == (2, 2) and not netG.training
