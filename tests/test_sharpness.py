"""Sharpness as the variance of the Laplacian (notebook 15)."""

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from gancourse.analysis.sharpness import laplacian, laplacian_variance, sharpness, sharpness_ratio


def test_laplacian_by_hand():
    """One bright pixel in the middle of a 5x5 image: -4 there, +1 at its four neighbours,
    0 elsewhere; at the border of a 3x3 image the mirrored pixel counts twice."""
    u = torch.zeros(1, 1, 5, 5)
    u[0, 0, 2, 2] = 1.0
    expected = torch.zeros(5, 5)
    expected[1:4, 1:4] = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(laplacian(u)[0, 0], expected)
    # variance over the 25 pixels: mean 0, mean square (16 + 4) / 25
    assert laplacian_variance(u).item() == pytest.approx(0.8)
    small = torch.zeros(1, 1, 3, 3)
    small[0, 0, 1, 1] = 1.0
    torch.testing.assert_close(laplacian(small)[0, 0], torch.tensor([[0.0, 2.0, 0.0],
                                                                     [2.0, -4.0, 2.0],
                                                                     [0.0, 2.0, 0.0]]))


def test_matches_scipy_mirror_mode():
    rng = np.random.default_rng(0)
    imgs = rng.normal(size=(3, 2, 9, 7))
    ours = laplacian(torch.from_numpy(imgs)).numpy()
    ref = np.stack([[scipy.ndimage.laplace(c, mode="mirror") for c in img] for img in imgs])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(laplacian_variance(imgs).numpy(), ref.reshape(3, -1).var(1), rtol=1e-5)


def test_constant_and_linear_images_score_zero():
    assert laplacian_variance(torch.full((2, 1, 5, 5), 0.3)).tolist() == [0.0, 0.0]
    ramp = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 6, 6)        # linear in x
    inner = laplacian(ramp)[0, 0, :, 1:-1]                                # away from the border
    assert inner.abs().max().item() == 0.0


def test_blur_lowers_sharpness_and_ratio():
    torch.manual_seed(0)
    x = (torch.rand(8, 1, 28, 28) > 0.8).float() * 2 - 1                  # crisp speckles
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    assert sharpness(blurred) < 0.5 * sharpness(x)
    assert sharpness_ratio(x, x) == pytest.approx(1.0)
    assert sharpness_ratio(blurred, x) < 0.5
    assert laplacian_variance(x).shape == (8,)


def test_errors():
    with pytest.raises(ValueError, match=r"non-empty batch \(N, C, H, W\)"):
        sharpness(torch.zeros(28, 28))
    with pytest.raises(ValueError, match="NaN or inf"):
        sharpness(torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="zero sharpness"):
        sharpness_ratio(torch.rand(1, 1, 4, 4), torch.zeros(2, 1, 4, 4))
