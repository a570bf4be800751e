"""gancourse.data.domains: attribute domains of real digits, and digits on photo textures."""

import math

import pytest
import torch

from gancourse.data import DatasetFallbackWarning
from gancourse.data import domains as D


def _bar(h=28, w=28, x0=12, x1=15, y0=4, y1=24):
    """A vertical bar (1, 1, H, W) in [-1, 1]: white on black."""
    img = -torch.ones(1, 1, h, w)
    img[..., y0:y1, x0:x1] = 1.0
    return img


def _real(n=24):
    return D.attribute_digits("test", n=n, seed=0)


# ----------------------------------------------------------------------------- domains
def test_all_domains_are_the_twelve_valid_combinations():
    doms = D.all_domains()
    assert doms.shape == (12, 5)
    D.check_attributes(doms)
    assert len(torch.unique(doms, dim=0)) == 12
    assert torch.equal(D.domain_index(doms), torch.arange(12))
    assert D.domain_name(doms[0]) == "red thin upright"
    assert D.domain_name(doms[11]) == "blue thick slanted"


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(2, 4), r"\(N, 5\)"),
    (torch.tensor([[1.0, 0, 0, 0.5, 0]]), "0 or 1"),
    (torch.tensor([[1.0, 1, 0, 0, 0]]), "exactly one of red, green, blue"),
    (torch.tensor([[0.0, 0, 0, 1, 1]]), "exactly one of red, green, blue"),
])
def test_check_attributes_refuses_invalid_rows(bad, match):
    with pytest.raises(ValueError, match=match):
        D.check_attributes(bad)


def test_random_domains_are_seeded_and_cover_all():
    a = D.random_domains(600, generator=torch.Generator().manual_seed(1))
    b = D.random_domains(600, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert set(D.domain_index(a).tolist()) == set(range(12))


# ----------------------------------------------------------------------------- measuring
def test_ink_takes_the_brightest_channel():
    x = -torch.ones(1, 3, 4, 4)
    x[0, 2, 1, 1] = 1.0                                   # a pure blue pixel
    u = D.ink(x)
    assert u.shape == (1, 4, 4)
    assert u[0, 1, 1] == 1.0 and u.sum() == 1.0
    assert torch.equal(D.to_grey(x)[0, 0], u[0] * 2 - 1)


def test_moments_of_a_bar_by_hand():
    m = D.ink_moments(_bar())                              # columns 12..14, rows 4..23
    assert m["cx"].item() == pytest.approx(13.0)
    assert m["cy"].item() == pytest.approx(13.5)
    assert m["mu20"].item() == pytest.approx(2 / 3, rel=1e-5)        # var of {12, 13, 14}
    assert m["mu02"].item() == pytest.approx((20 ** 2 - 1) / 12, rel=1e-5)
    assert m["mu11"].item() == pytest.approx(0.0, abs=1e-5)


def test_slant_of_a_sheared_bar_is_the_shear():
    bar = _bar(x0=13, x1=15)
    assert D.slant(bar).item() == pytest.approx(0.0, abs=1e-5)
    for s in (0.3, 0.5, -0.4):
        assert D.slant(D.shear(bar, s)).item() == pytest.approx(s, abs=0.03)
        assert D.slant(D.set_slant(D.shear(bar, s), 0.0)).item() == pytest.approx(0.0, abs=0.03)


def test_shear_leans_the_top_to_the_right():
    top_before = D.ink(_bar())[0, 5].argmax()
    sheared = D.ink(D.shear(_bar(), 0.5))
    assert sheared[0, 5].argmax() > top_before                  # top row moved right
    assert sheared[0, 22].argmax() < top_before                 # bottom row moved left


def test_principal_angle_of_an_upright_and_a_rotated_bar():
    assert D.principal_angle(_bar()).item() == pytest.approx(0.0, abs=1e-3)
    wide = -torch.ones(1, 1, 28, 28)
    wide[..., 12:15, 4:24] = 1.0                                # the bar lying on its side
    assert abs(D.principal_angle(wide).item()) == pytest.approx(90.0, abs=1e-3)


def test_stroke_width_of_drawn_pens():
    bar = _bar(x0=13, x1=14)                                     # a one-pixel line
    thin, thick = D.stroke_render(bar, D.THIN_RADIUS), D.stroke_render(bar, D.THICK_RADIUS)
    w_thin, w_thick = D.stroke_width(thin).item(), D.stroke_width(thick).item()
    assert w_thin == pytest.approx(2 * D.THIN_RADIUS, abs=0.4)
    assert w_thick == pytest.approx(2 * D.THICK_RADIUS, abs=0.8)
    assert w_thin < D.WIDTH_THRESHOLD < w_thick
    assert D.stroke_width(-torch.ones(1, 1, 28, 28)).item() == 0.0          # blank image


def test_stroke_colour_and_its_failure_on_grey():
    grey = D.stroke_render(_bar(), 1.0)
    for k in range(3):
        rgb = torch.zeros(1, 3)
        rgb[0, k] = 1.0
        assert D.stroke_colour(D.colourise(grey, rgb)).item() == k
    with pytest.raises(ValueError, match="C in \\(3,\\)"):
        D.stroke_colour(grey)


def test_measured_attributes_of_real_domain_images_are_exact():
    real = _real(48)
    assert real.images.shape == (48, 3, 28, 28) and real.attrs.shape == (48, 5)
    assert real.images.min() >= -1 and real.images.max() <= 1
    acc = D.attribute_accuracy(real.images, real.attrs)
    assert acc == {"colour": 1.0, "thickness": 1.0, "slant": 1.0, "mean": 1.0, "domain": 1.0}


def test_attribute_accuracy_sees_a_wrong_colour():
    real = _real(12)
    wrong = real.attrs.clone()
    wrong[:, :3] = wrong[:, :3].roll(1, dims=1)                  # every colour wrong
    acc = D.attribute_accuracy(real.images, wrong)
    assert acc["colour"] == 0.0 and acc["thickness"] == 1.0 and acc["domain"] == 0.0
    assert acc["mean"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="12 images but 3"):
        D.attribute_accuracy(real.images, wrong[:3])


def test_every_domain_keeps_each_digit_aligned():
    real = _real(6)
    grid = D.every_domain(real.grey)                             # (6, 12, 3, 28, 28)
    assert grid.shape == (6, 12, 3, 28, 28)
    flat = grid.flatten(0, 1)
    assert D.attribute_accuracy(flat, D.all_domains().repeat(6, 1))["domain"] == 1.0
    # colour is the only change between domains 0 and 4 (red / green, thin upright): same pixels
    assert torch.equal(D.to_grey(grid[:, 0]), D.to_grey(grid[:, 4]))
    # every column keeps digit i in row i: its centroid stays where the source digit's is
    src = D.ink_moments(real.grey)
    for k in range(12):
        m = D.ink_moments(grid[:, k])
        assert torch.allclose(m["cx"], src["cx"], atol=1.5) and torch.allclose(m["cy"], src["cy"], atol=1.5)


def test_attribute_digits_is_seeded_and_checks_its_arguments():
    a, b = D.attribute_digits("test", n=10, seed=3), D.attribute_digits("test", n=10, seed=3)
    assert a is b                                                 # cached
    c = D.attribute_digits("test", n=10, seed=4)
    assert not torch.equal(a.attrs, c.attrs)
    src = a.training_source()
    assert set(src.tensors) == {"x", "y"} and src.tensors["y"].dtype == torch.float32
    assert "mnist" in a.name and "attributes" in repr(a)
    with pytest.raises(ValueError, match="unknown split"):
        D.attribute_digits("val")
    with pytest.raises(ValueError, match="n must lie in"):
        D.attribute_digits("test", n=10 ** 6)


def test_draw_domains_checks_shapes():
    real = _real(4)
    with pytest.raises(ValueError, match="4 digits but 3"):
        D.draw_domains(real.grey, real.attrs[:3])
    with pytest.raises(ValueError, match="C in \\(1,\\)"):
        D.draw_domains(real.images, real.attrs)


# ----------------------------------------------------------------------------- photo domains
def test_blend_is_mnist_m_s_absolute_difference():
    digit = _bar()
    patch = torch.zeros(1, 3, 28, 28)                            # mid-grey (0.5 in [0, 1] units)
    out = D.blend_on_photos(digit, patch)
    assert out.shape == (1, 3, 28, 28)
    assert torch.allclose(out[..., 10, 13], torch.zeros(1, 3))   # |0.5 - 1| = 0.5 -> 0
    assert torch.allclose(out[..., 0, 0], torch.zeros(1, 3))     # |0.5 - 0| = 0.5 -> 0
    dark = -torch.ones(1, 3, 28, 28)
    assert torch.equal(D.blend_on_photos(digit, dark), D.to_rgb(digit))     # on black: the digit
    with pytest.raises(ValueError, match="one patch per digit"):
        D.blend_on_photos(digit, dark.repeat(2, 1, 1, 1))


def test_photo_digits_pairs_stay_aligned_and_held_out_photos_are_apart():
    tr, te = D.photo_digits("train", n=20), D.photo_digits("test", n=20)
    assert tr.images.shape == (20, 3, 28, 28) and tr.clean.shape == (20, 1, 28, 28)
    assert torch.allclose(tr.images, D.blend_on_photos(tr.clean, tr.patches))
    assert set(tr.photos).isdisjoint(te.photos)
    off = D.ink(tr.clean) == 0                                    # no ink: the blend is the photo
    assert torch.allclose(tr.images.permute(0, 2, 3, 1)[off], tr.patches.permute(0, 2, 3, 1)[off], atol=1e-5)
    ds = tr.dataset()
    assert len(ds) == 20 and ds.num_classes == 10


def test_to_rgb():
    g = _bar()
    assert D.to_rgb(g).shape == (1, 3, 28, 28)
    x = torch.zeros(2, 3, 28, 28)
    assert D.to_rgb(x) is x


# ----------------------------------------------------------------------------- CelebA
def test_attribute_task_falls_back_to_digit_domains_in_one_warning(tmp_path):
    with pytest.warns(DatasetFallbackWarning, match="celeba is not available.*digit attribute") as rec:
        out = D.attribute_task("celeba", "test", root=tmp_path, offline=True, n=10 ** 6)
    assert len(rec) == 1
    assert out.requested == "celeba" and out.fallback and len(out) == 1000
    assert "fell back from 'celeba'" in repr(out)
    with pytest.raises(ValueError, match="unknown attribute task"):
        D.attribute_task("faces")


def test_celeba_conversion_with_a_stand_in_torchvision_class(tmp_path, monkeypatch):
    """The CelebA path: StarGAN's crop and size, the five attributes, the cache."""
    import torchvision
    from PIL import Image

    class FakeCelebA:
        attr_names = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]

        def __init__(self, root, split, target_type, download):
            assert target_type == "attr" and not download
            self.attr = torch.tensor([[0, 1, 0, 0, 1, 1], [1, 0, 1, 0, 0, 1], [0, 0, 0, 1, 1, 0]])

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return Image.new("RGB", (178, 218), (255, 0, 0) if i == 0 else (0, 0, 255)), self.attr[i]

    monkeypatch.setattr(torchvision.datasets, "CelebA", FakeCelebA)
    images, attrs = D.celeba_attributes("train", root=tmp_path, offline=True, image_size=32)
    assert images.shape == (3, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert torch.allclose(images[0, 0], torch.ones(32, 32))
    assert torch.allclose(images[0, 2], -torch.ones(32, 32))
    assert torch.equal(attrs, torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0]]))
    monkeypatch.delattr(torchvision.datasets, "CelebA")           # the cache answers now
    again, _ = D.celeba_attributes("train", root=tmp_path, offline=True, image_size=32)
    assert torch.equal(again, images)
    assert not math.isnan(float(again.mean()))
