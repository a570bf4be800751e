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


def test_fake_share_counts_negative_logits_and_restores_the_mode():
    netD = MeanD().eval()
    images = torch.cat([torch.full((3, 1, 4, 4), -0.5), torch.full((1, 1, 4, 4), 0.5)])
    assert probes.fake_share(netD, images, batch_size=3) == pytest.approx(0.75)
    assert netD.modes == [True, True] and not netD.training              # two batches, train mode, restored
    assert probes.fake_share(netD.train(), images, batch_size=3, mode="eval") == pytest.approx(0.75)
    assert netD.modes[-2:] == [False, False] and netD.training
    with pytest.raises(ValueError, match="valid modes are batch, eval"):
        probes.fake_share(netD, images, mode="train")
    with pytest.raises(ValueError, match=r"non-empty batch \(N, C, H, W\)"):
        probes.fake_share(netD, torch.zeros(0, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        probes.fake_share(netD, torch.zeros(4, 4))


def test_fake_share_eval_mode_scores_each_image_alone():
    torch.manual_seed(0)
    netD = DCGANDiscriminator(ndf=4)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    whole = probes.fake_share(netD, x, mode="eval")
    one_by_one = sum(probes.fake_share(netD, x[i:i + 1], mode="eval") for i in range(6)) / 6
    assert whole == pytest.approx(one_by_one)


def test_eval_and_batch_readings_disagree_when_running_stats_match_neither_source():
    """A batch-norm D trained on alternating all-real / all-fake batches: its running statistics
    average two sources that differ in mean, so in eval mode it calls every real image fake,
    while batch statistics (as in training) read it right. Running stats stay untouched."""
    torch.manual_seed(0)
    netD = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1), torch.nn.BatchNorm1d(1),
                               torch.nn.Flatten(0))
    with torch.no_grad():
        netD[1].weight.fill_(1.0)
        netD[1].bias.zero_()
        netD[2].weight.fill_(1.0)
        netD[2].bias.fill_(1.0)                   # batch statistics: every batch centred, then +1
        netD[2].running_mean.fill_(10.0)          # as if averaged over real (~0) and fake (~20) batches
        netD[2].running_var.fill_(1.0)
    real = torch.randn(64, 1, 2, 2) * 0.1
    before = {k: v.clone() for k, v in netD.state_dict().items()}
    assert probes.fake_share(netD, real, mode="eval") == 1.0       # (~0 - 10) + 1 < 0: "fake"
    assert probes.fake_share(netD, real, mode="batch") < 0.5       # centred on its own batch: ~+1
    for k, v in netD.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed"


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
