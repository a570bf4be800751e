import pytest
import torch
from torch import nn

from gancourse.analysis import probes
from gancourse.models import DCGANDiscriminator


class MeanD(nn.Module):
    """Logit = mean pixel value: positive for bright images; records its mode."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.w * x.flatten(1).mean(1)


def test_fake_share_counts_negative_logits_in_eval_mode_and_restores_the_mode():
    netD = MeanD().train()
    images = torch.cat([torch.full((3, 1, 4, 4), -0.5), torch.full((1, 1, 4, 4), 0.5)])
    assert probes.fake_share(netD, images, batch_size=3) == pytest.approx(0.75)
    assert netD.modes == [False, False] and netD.training                 # two batches, eval, restored
    with pytest.raises(ValueError, match=r"non-empty batch \(N, C, H, W\)"):
        probes.fake_share(netD, torch.zeros(0, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        probes.fake_share(netD, torch.zeros(4, 4))


def test_fake_share_batch_norm_discriminator_scores_each_image_alone():
    torch.manual_seed(0)
    netD = DCGANDiscriminator(ndf=4)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    whole = probes.fake_share(netD, x)
    one_by_one = sum(probes.fake_share(netD, x[i:i + 1]) for i in range(6)) / 6
    assert whole == pytest.approx(one_by_one)


def test_shift_moves_pixels_and_fills_the_border():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    assert probes.shift(x, 1, 0)[0, 0].tolist() == [[-1, 0, 1], [-1, 3, 4], [-1, 6, 7]]
    assert probes.shift(x, -1, 0)[0, 0].tolist() == [[1, 2, -1], [4, 5, -1], [7, 8, -1]]
    assert probes.shift(x, 0, 1, fill=9)[0, 0].tolist() == [[9, 9, 9], [0, 1, 2], [3, 4, 5]]
    assert torch.equal(probes.shift(x, 0, 0), x)
    with pytest.raises(ValueError, match="out of its frame"):
        probes.shift(x, 3, 0)


def test_readable_changes_are_small_and_reproducible():
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    changes = probes.readable_changes(x, seed=1)
    assert list(changes) == ["shifted 1 px", "noise std 0.03", "blur sigma 0.5"]
    for name, y in changes.items():
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1, name
    noise = changes["noise std 0.03"] - x
    assert 0.02 < noise.std().item() < 0.04
    assert torch.equal(changes["noise std 0.03"], probes.readable_changes(x, seed=1)["noise std 0.03"])
    flat = torch.full((1, 1, 8, 8), 0.3)
    assert torch.allclose(probes.readable_changes(flat)["blur sigma 0.5"], flat)   # blur keeps a flat image
