"""gancourse.analysis.editing: attribute vectors, edits and completion (notebook 17)."""

import pytest
import torch
import torch.nn.functional as F

from gancourse.analysis import editing as ed
from gancourse.analysis import inversion as inv
from gancourse.analysis.latent import generate
from gancourse.data.domains import stroke_width
from gancourse.models import DCGANGenerator


def test_attribute_vector_is_the_difference_of_the_group_means():
    values = torch.arange(8.0)                                     # 0..7
    codes = torch.stack([values, torch.ones(8)], 1)                # first coordinate = value
    v = ed.attribute_vector(codes, values, quantile=0.25)          # top 2: 6, 7; bottom 2: 0, 1
    assert torch.allclose(v, torch.tensor([6.5 - 0.5, 0.0]))
    v_half = ed.attribute_vector(codes, values, quantile=0.5)      # 4..7 vs 0..3
    assert torch.allclose(v_half, torch.tensor([4.0, 0.0]))
    # the order of the codes does not matter
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ed.attribute_vector(codes[perm], values[perm], 0.25), v)


def test_class_balanced_vector_ignores_a_class_difference():
    """Class 1 has a much larger attribute and its own code direction: without labels the vector
    mostly points from class 0 to class 1; within classes only the attribute direction is left."""
    g = torch.Generator().manual_seed(0)
    n = 400
    y = torch.arange(n) % 2
    within = torch.randn(n, generator=g)
    values = within + 10.0 * y
    codes = torch.stack([within, 3.0 * y.float()], 1)              # (attribute, class) coordinates
    plain = ed.attribute_vector(codes, values, 0.25)
    balanced = ed.attribute_vector(codes, values, 0.25, labels=y)
    assert plain[1] > 2.5                                          # class direction dominates
    assert balanced[1].abs() < 1e-6 and balanced[0] > 2.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(values=torch.zeros(5)), "one per code"),
    (dict(values=torch.zeros(8), quantile=0.7), r"quantile must be in \(0, 0.5\]"),
    (dict(values=torch.zeros(8), quantile=0.1), "too few codes"),
    (dict(values=torch.zeros(8), labels=torch.zeros(8)), "integers"),
])
def test_attribute_vector_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ed.attribute_vector(torch.zeros(8, 3), **kwargs)


def test_edit_moves_every_code_by_every_strength():
    z = torch.zeros(3, 2)
    out = ed.edit(z, torch.tensor([1.0, -2.0]), [-1.0, 0.0, 0.5])
    assert out.shape == (3, 3, 2)
    assert torch.equal(out[1], z)
    assert torch.allclose(out[2], torch.tensor([0.5, -1.0]).expand(3, 2))
    with pytest.raises(ValueError, match="one vector of size 2"):
        ed.edit(z, torch.zeros(3), [1.0])


def test_attribute_slope_of_a_line_and_of_noise_free_means():
    a = [-2.0, -1.0, 0.0, 1.0, 2.0]
    values = torch.tensor([[3.0 + 0.5 * s, 1.0 + 0.5 * s] for s in a])   # (S, N): mean 2 + 0.5 α
    assert ed.attribute_slope(a, values) == pytest.approx(0.5)
    assert ed.attribute_slope(a, values.mean(1)) == pytest.approx(0.5)
    assert ed.attribute_slope(a, torch.ones(5, 4)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="distinct strengths"):
        ed.attribute_slope([1.0, 1.0], torch.zeros(2))


def test_half_masks():
    top = ed.half_mask(2, 28, keep="top")
    assert top.shape == (2, 1, 28, 28) and top.sum().item() == 2 * 14 * 28
    assert top[:, :, :14].eq(1).all() and top[:, :, 14:].eq(0).all()
    left = ed.half_mask(1, 28, keep="left")
    assert left[..., :14].eq(1).all() and left[..., 14:].eq(0).all()
    assert torch.equal(ed.half_mask(1, 28, "bottom"), 1 - top[:1])
    with pytest.raises(ValueError, match="valid: top, bottom, left, right"):
        ed.half_mask(1, 28, keep="middle")


def test_fill_keeps_the_known_pixels_and_fills_the_hole():
    x = torch.rand(3, 1, 28, 28)
    m = ed.half_mask(3, keep="top")
    mean = torch.full((1, 28, 28), 0.25)
    out = ed.fill(x, m, mean)
    assert torch.equal(out[:, :, :14], x[:, :, :14]) and out[:, :, 14:].eq(0.25).all()
    assert ed.fill(x, m, -1.0)[:, :, 14:].eq(-1).all()


def test_complete_recovers_the_hidden_half_of_gs_own_sample():
    torch.manual_seed(0)
    netG = DCGANGenerator(z_dim=4, ngf=8).eval()
    pool = inv.sample_pairs(netG, 500, seed=0)
    z_true = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    x = generate(netG, z_true)
    m = ed.half_mask(5, keep="top")
    done, found = ed.complete(netG, x, m, pool, starts=3, steps=200, lr=0.05, prior_weight=0.0)
    assert done.shape == x.shape and found.z.shape == (5, 4)
    assert torch.equal(done[:, :, :14], x[:, :, :14])                       # known half untouched
    hidden_err = (done[:, :, 14:] - x[:, :, 14:]).square().mean()
    blank_err = (-1 - x[:, :, 14:]).square().mean()
    assert hidden_err < 0.05 * blank_err
    assert found.error.max() < 1e-3


def test_stroke_width_grows_when_strokes_are_thickened():
    """The measured attribute of the lesson: dilating a digit's ink raises its stroke width."""
    x = -torch.ones(1, 1, 28, 28)
    x[:, :, 6:22, 13] = 1.0                                                 # a 1 px vertical bar
    thick = F.max_pool2d(x, 3, stride=1, padding=1)                         # 3 px wide
    w_thin, w_thick = stroke_width(x).item(), stroke_width(thick).item()
    assert w_thin == pytest.approx(1.0, abs=0.15)
    assert w_thick == pytest.approx(3.0, rel=0.3) and w_thick > 2 * w_thin
