"""Tests for stacked digits: gancourse.data.stack_digits and gancourse.metrics.stacked_mode_metrics."""

import math

import pytest
import torch
from torch import nn

from gancourse.data import stack_digits
from gancourse.metrics import stacked_mode_metrics


# ----------------------------------------------------------------------------- stacked digits
def test_stack_digits_modes():
    images = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 1, 2, 2)   # image k is all k
    labels = torch.arange(10)
    stacked, modes = stack_digits(images, 50, seed=3, labels=labels)
    assert stacked.shape == (50, 3, 2, 2)
    digits = stacked[:, :, 0, 0].long()                                   # (50, 3)
    assert torch.equal(modes, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert stack_digits(images, 4)[1] is None
    with pytest.raises(ValueError, match="grey images"):
        stack_digits(torch.zeros(4, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="n must be"):
        stack_digits(images, 0)


class _PixelJudge(nn.Module):
    """A 'classifier' that reads the digit off the image's mean value (0..9)."""

    def predict(self, images, batch_size=256):
        k = images.mean((1, 2, 3)).round().long().clamp(0, 9)
        return torch.zeros(len(images), 1), nn.functional.one_hot(k, 10).float()


def test_stacked_mode_metrics_collapsed_and_uniform():
    judge = _PixelJudge()
    one = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1).expand(40, 3, 2, 2)
    m = stacked_mode_metrics(one, judge)
    assert m["modes_covered"] == 1 and m["mode_counts"][123] == 40
    assert m["reverse_kl"] == pytest.approx(math.log(1000))
    codes = torch.arange(1000)
    digits = torch.stack([codes // 100, codes // 10 % 10, codes % 10], 1).float()
    every = digits.view(1000, 3, 1, 1).expand(1000, 3, 2, 2)
    m = stacked_mode_metrics(every, judge)
    assert m["modes_covered"] == 1000 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="stacked images"):
        stacked_mode_metrics(torch.zeros(2, 1, 2, 2), judge)
