"""Tests for gancourse.analysis.protocol: the toy mode-collapse protocol over methods and seeds."""

import math

import numpy as np
import pytest
import torch

from gancourse.analysis import protocol as P
from gancourse.data import grid25
from gancourse.gans import collapse as C
from gancourse.metrics import mode_metrics

TINY = P.ToySetup(steps=3, batch_size=8, g_hidden=(8, 8), d_hidden=(8, 8), n_generators=2)


# ----------------------------------------------------------------------------- protocol
def test_mean_se():
    assert P.mean_se([1.0, 3.0]) == (2.0, 1.0)                   # s = sqrt(2), se = s / sqrt(2)
    assert P.mean_se([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError):
        P.mean_se([])


@pytest.mark.parametrize("method", P.METHODS)
def test_make_trainer_every_method_trains(method):
    trainer = P.make_trainer(method, "ring8", TINY, seed=1)
    trainer.fit()
    assert trainer.sample(10).shape == (10, 2)
    if method == "unrolled":
        assert isinstance(trainer, C.UnrolledGANTrainer)
    if method == "pacgan4":
        assert trainer.config.batch_size == 4 * TINY.batch_size
    if method == "wgan-gp":
        assert trainer.config.loss == "wgan" and trainer.config.n_critic == TINY.n_critic_wgan


def test_make_trainer_errors():
    with pytest.raises(ValueError, match="valid: gan"):
        P.make_trainer("vae", "grid25", TINY)
    with pytest.raises(ValueError, match="valid: grid25"):
        P.make_trainer("gan", "moons", TINY)


def test_protocol_shapes_and_seeds():
    res = P.protocol(["gan", "mbstd"], "grid25", TINY, seeds=[0, 1], n_samples=50)
    assert set(res) == {"gan", "mbstd"}
    for r in res.values():
        assert len(r["runs"]) == 2 and [run["seed"] for run in r["runs"]] == [0, 1]
        modes = [run["modes_covered"] for run in r["runs"]]
        assert r["modes"] == pytest.approx(P.mean_se(modes))
        assert 0 <= r["modes"][0] <= 25 and r["runs"][0]["samples"].shape == (50, 2)
    again = P.protocol(["gan"], "grid25", TINY, seeds=[0], n_samples=50)
    assert np.array_equal(again["gan"]["runs"][0]["samples"], res["gan"]["runs"][0]["samples"])
    with pytest.raises(ValueError, match="unknown method"):
        P.protocol(["nope"], "grid25", TINY)
    with pytest.raises(ValueError, match="has no seeds"):
        P.protocol(["gan"], "grid25", TINY, seeds=[])


def test_mode_metrics_known_answers_for_collapsed_and_perfect_samplers():
    data = grid25()
    perfect = data.sample(2500, seed=0)
    m = mode_metrics(perfect, data.centers, data.sigma)
    assert m["modes_covered"] == 25 and m["hq_share"] > 0.97 and m["reverse_kl"] < 0.02
    collapsed = data.centers[7].repeat(2500, 1) + 0.01 * torch.randn(2500, 2)
    m = mode_metrics(collapsed, data.centers, data.sigma)
    assert m["modes_covered"] == 1 and m["hq_share"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))


def test_protocol_with_per_method_seeds_and_workers_gives_the_same_runs():
    plan = {"gan": [0, 1], "mix-g": [2]}
    one = P.protocol(plan, "ring8", TINY, n_samples=40, progress=False)
    two = P.protocol(plan, "ring8", TINY, n_samples=40, workers=2, progress=False)
    assert [r["seed"] for r in one["gan"]["runs"]] == [0, 1] and len(one["mix-g"]["runs"]) == 1
    for method in plan:
        for a, b in zip(one[method]["runs"], two[method]["runs"]):
            assert np.array_equal(a["samples"], b["samples"])
    assert one["mix-g"]["modes"][1] == 0.0                     # one seed: no standard error
    with pytest.raises(ValueError, match="'gan' has no seeds"):
        P.protocol({"gan": []}, "ring8", TINY)
    with pytest.raises(ValueError, match="workers >= 1"):
        P.protocol(["gan"], "ring8", TINY, workers=0)


def test_results_table_rows_and_anchors():
    fake = {"gan": {"modes": (17.0, 1.0), "hq": (0.95, 0.01), "kl": (0.5, 0.1),
                    "runs": [{}, {}], "time_s": 10.0},
            "mix-g": {"modes": (25.0, 0.0), "hq": (0.97, 0.0), "kl": (0.01, 0.0),
                      "runs": [{}], "time_s": 3.0}}
    table = P.results_table(fake).splitlines()
    assert len(table) == 4 and table[0].startswith("| method |")
    assert table[2] == ("| GAN (non-saturating) | 2 | 17.0 ± 1.0 | 95.0 ± 1.0 % | 0.500 ± 0.100 | 5 "
                        "| 17.3, 94.8 % |")
    assert table[3].startswith("| several generators | 1 | 25.0 ± 0.0 | 97.0 ± 0.0 %")
    assert table[3].endswith("| 3 |  |")                      # no published anchor
