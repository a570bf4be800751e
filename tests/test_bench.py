import json
import math

import pytest
import torch
from torch import nn

from gancourse import runtime
from gancourse.analysis import bench
from gancourse.metrics import Classifier
from gancourse.models import DCGANGenerator

TINY = bench.Budget(steps=3, batch_size=8, z_dim=4, ngf=8, ndf=8, n_eval=40)


class Replay(nn.Module):
    """A "generator" that returns stored images in order, whatever the codes."""

    def __init__(self, images):
        super().__init__()
        self.register_buffer("images", images)
        self.dummy = nn.Parameter(torch.zeros(()))
        self.pos = 0

    def forward(self, z):
        out = self.images[self.pos:self.pos + len(z)]
        self.pos += len(z)
        return out


def test_budgets_and_unknown_profile():
    assert set(bench.BUDGETS) == {"smoke", "cpu", "gpu", "gpu-dry"}
    assert bench.budget("gpu-dry").steps < bench.budget("gpu").steps
    assert bench.budget("cpu").steps > bench.budget("smoke").steps
    with pytest.raises(ValueError, match="unknown profile 'laptop'.*smoke, cpu, gpu"):
        bench.budget("laptop")
    assert bench.budget_dict(TINY)["n_eval"] == 40


def test_generator_is_the_same_for_every_variant_and_leaves_the_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = bench.make_generator(TINY, seed=5), bench.make_generator(TINY, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert isinstance(a, DCGANGenerator)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = bench.make_generator(TINY, seed=6)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    assert a(torch.randn(2, TINY.z_dim)).shape == (2, 1, 28, 28)


def test_train_config_keeps_the_budget():
    cfg = bench.train_config(TINY, seed=3, loss="wgan", n_critic=5, clip=0.01)
    assert (cfg.steps, cfg.batch_size, cfg.z_dim, cfg.seed) == (3, 8, 4, 3)
    assert (cfg.loss, cfg.n_critic, cfg.clip) == ("wgan", 5, 0.01)
    with pytest.raises(ValueError, match="steps belong to the budget"):
        bench.train_config(TINY, steps=10_000)
    assert torch.equal(bench.eval_codes(TINY, 1), bench.eval_codes(TINY, 1))
    assert bench.eval_codes(TINY).shape == (40, 4)


def test_evaluate_known_answers():
    torch.manual_seed(0)
    judge = Classifier(1, num_classes=10, image_size=28).eval()
    held_out = torch.rand(40, 1, 28, 28) * 2 - 1
    same = bench.evaluate(Replay(held_out), judge, held_out, TINY)
    assert same["fd"] == pytest.approx(0.0, abs=1e-3)          # identical sets
    constant = bench.evaluate(Replay(torch.zeros(40, 1, 28, 28)), judge, held_out, TINY)
    assert constant["class_coverage"] == 1 and constant["min_class_share"] == 0.0
    assert constant["entropy"] == pytest.approx(0.0, abs=1e-9)
    assert constant["fd"] > same["fd"] + 1e-3
    netG = bench.make_generator(TINY).train()
    bench.evaluate(netG, judge, held_out, TINY)
    assert netG.training                                        # mode restored


def test_record_and_table(tmp_path):
    path = tmp_path / "metrics.json"
    runtime.configure_metrics(path)
    try:
        result = {"fd": 12.5, "confident_share": 0.8, "class_coverage": 10, "entropy": 2.2,
                  "min_class_share": 0.05}
        row = bench.record("wgan-gp", result, time_s=42.0)
        assert row["time_s"] == 42.0 and row["class_coverage"] == 10.0
        stored = json.loads(path.read_text())
        assert stored["bench.wgan-gp.fd"] == 12.5 and stored["bench.wgan-gp.time_s"] == 42.0
        with pytest.raises(ValueError, match="unknown variant 'dcgan2'"):
            bench.record("dcgan2", result, 1.0)
        with pytest.raises(ValueError, match="lacks fd"):
            bench.record("gan", {k: v for k, v in result.items() if k != "fd"}, 1.0)
        rows = bench.table({**stored, "bench.gan.fd": 30.0})
        assert [r["variant"] for r in rows] == ["gan", "wgan-gp"]     # VARIANTS order
        assert math.isnan(rows[0]["confident_share"]) and rows[1]["fd"] == 12.5
    finally:
        runtime.configure_metrics(None)


def test_save_and_load_generators(tmp_path):
    netG = bench.make_generator(bench.budget("smoke"), seed=1)
    path = bench.save_generator(netG, "lsgan", "smoke", {"fd": 3.0}, root=tmp_path)
    assert path == tmp_path / "bench" / "smoke" / "lsgan.pt" and path.exists()
    loaded = bench.load_generators("smoke", root=tmp_path)
    assert list(loaded) == ["lsgan"]
    G, result = loaded["lsgan"]
    assert result == {"fd": 3.0} and not G.training
    z = torch.randn(3, bench.budget("smoke").z_dim)
    netG.eval()
    torch.testing.assert_close(G(z), netG(z))
    assert bench.load_generators("cpu", root=tmp_path) == {}        # nothing saved for cpu


def test_load_generators_failure_paths(tmp_path):
    with pytest.raises(ValueError, match="unknown variant"):
        bench.generator_path("gan2", "smoke", tmp_path)
    with pytest.raises(TypeError, match="DCGANGenerator"):
        bench.save_generator(nn.Linear(2, 2), "gan", "smoke", root=tmp_path)
    path = bench.generator_path("gan", "smoke", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or unreadable.*rerun the notebook"):
        bench.load_generators("smoke", root=tmp_path)
    torch.save({"format": "other"}, path)
    with pytest.raises(ValueError, match="not a gancourse bench generator"):
        bench.load_generators("smoke", root=tmp_path)
    bench.save_generator(bench.make_generator(bench.budget("cpu")), "gan", "cpu", root=tmp_path)
    (tmp_path / "bench" / "cpu" / "gan.pt").replace(path)          # a cpu model in the smoke slot
    with pytest.raises(ValueError, match="trained with budget"):
        bench.load_generators("smoke", root=tmp_path)
