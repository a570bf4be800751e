"""Linear probe and class agreement (notebook 16)."""

import numpy as np
import pytest
import torch

from gancourse.analysis.representation import class_agreement, linear_probe
from gancourse.metrics.classifier import Classifier


def test_linear_probe_reads_separable_codes_and_not_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 6)) * 5
    ytr, yte = rng.integers(0, 4, 400), rng.integers(0, 4, 200)
    xtr = centres[ytr] + rng.normal(size=(400, 6))
    xte = centres[yte] + rng.normal(size=(200, 6))
    res = linear_probe(xtr, ytr, xte, yte)
    assert set(res) == {"accuracy", "train_accuracy", "chance"}
    assert res["accuracy"] > 0.95
    assert res["chance"] == pytest.approx(np.bincount(yte).max() / 200)
    # codes that carry no label information: held-out accuracy near chance
    noise = linear_probe(rng.normal(size=(400, 6)), ytr, rng.normal(size=(200, 6)), yte)
    assert noise["accuracy"] < 0.4
    # torch tensors work too
    same = linear_probe(torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                        torch.from_numpy(yte))
    assert same["accuracy"] == res["accuracy"]


def test_linear_probe_errors():
    x, y = np.zeros((10, 3)), np.arange(10) % 2
    with pytest.raises(ValueError, match="differ in dimension"):
        linear_probe(x, y, np.zeros((5, 4)), y[:5])
    with pytest.raises(ValueError, match="10 integer labels"):
        linear_probe(x, y[:9], x, y)
    with pytest.raises(ValueError, match="single class"):
        linear_probe(x, np.zeros(10, dtype=int), x, y)
    with pytest.raises(ValueError, match=r"non-empty \(N, D\)"):
        linear_probe(np.zeros(10), y, x, y)
    with pytest.raises(ValueError, match="C .* must be positive"):
        linear_probe(x, y, x, y, C=0)


def test_class_agreement():
    torch.manual_seed(0)
    clf = Classifier(image_size=28).eval()
    x = torch.rand(20, 1, 28, 28) * 2 - 1
    assert class_agreement(clf, x, x) == 1.0
    other = torch.rand(20, 1, 28, 28) * 2 - 1
    _, p1 = clf.predict(x)
    _, p2 = clf.predict(other)
    expected = (p1.argmax(1) == p2.argmax(1)).float().mean().item()
    assert class_agreement(clf, x, other) == pytest.approx(expected)
    # reconstructions outside [-1, 1] are clamped, not refused
    assert class_agreement(clf, x, x.clamp(-1, 1) * 1.0) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        class_agreement(clf, x, x[:5])
