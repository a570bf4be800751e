import json

import numpy as np
import pytest
import torch

import gancourse
from gancourse import runtime


def test_resolve_profile_explicit_env_and_auto(monkeypatch):
    assert runtime.resolve_profile("cpu") == "cpu"
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    assert runtime.resolve_profile("auto") == "smoke"
    assert runtime.resolve_profile("gpu") == "gpu"          # explicit beats the env
    monkeypatch.delenv("GANCOURSE_PROFILE")
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert runtime.resolve_profile("auto") == expected


def test_resolve_profile_rejects_unknown(monkeypatch):
    with pytest.raises(ValueError, match="valid profiles are smoke, cpu, gpu"):
        runtime.resolve_profile("fast")
    monkeypatch.setenv("GANCOURSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="'laptop'"):
        runtime.resolve_profile("auto")


def test_resolve_device():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(ValueError, match="valid devices"):
        runtime.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            runtime.resolve_device("cuda")


def test_resolve_offline(monkeypatch):
    monkeypatch.setenv("GANCOURSE_OFFLINE", "1")
    assert runtime.resolve_offline(None) is True
    assert runtime.resolve_offline(False) is False
    monkeypatch.setenv("GANCOURSE_OFFLINE", "0")
    assert runtime.resolve_offline(None) is False
    monkeypatch.setenv("GANCOURSE_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="GANCOURSE_OFFLINE"):
        runtime.resolve_offline(None)


def test_seed_everything_reproducible():
    runtime.seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    runtime.seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    runtime.seed_everything(3, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    runtime.seed_everything(3)
    assert not torch.are_deterministic_algorithms_enabled()


def test_paths_do_not_depend_on_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("GANCOURSE_DATA", raising=False)
    monkeypatch.delenv("GANCOURSE_OUTPUT", raising=False)
    before = (runtime.default_data_root(), runtime.default_output_root(), runtime.notebooks_dir())
    monkeypatch.chdir(tmp_path)
    after = (runtime.default_data_root(), runtime.default_output_root(), runtime.notebooks_dir())
    assert before == after
    assert runtime.notebooks_dir().name == "notebooks" and runtime.notebooks_dir().is_dir()
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "d"))
    assert runtime.default_data_root() == tmp_path / "d"


def test_record_writes_json_after_every_call(tmp_path):
    path = tmp_path / "m.json"
    runtime.configure_metrics(path)
    assert json.loads(path.read_text()) == {}
    gancourse.record("a.b", np.float32(1.5))
    gancourse.record("a.flag", True)
    gancourse.record("a.t", torch.tensor(2))
    assert json.loads(path.read_text()) == {"a.b": 1.5, "a.flag": True, "a.t": 2}
    gancourse.record("a.inf", float("inf"))                # JSON has no inf: kept as text
    assert json.loads(path.read_text())["a.inf"] == "inf"
    assert gancourse.records()["a.b"] == 1.5
    runtime.configure_metrics(None)


@pytest.mark.parametrize("name", ["", "a..b", "a b", ".x", 3])
def test_record_rejects_bad_names(name):
    with pytest.raises(ValueError, match="dotted words"):
        gancourse.record(name, 1.0)


def test_record_rejects_non_scalars():
    with pytest.raises(TypeError, match="shape"):
        gancourse.record("x.y", torch.ones(3))
    with pytest.raises(TypeError, match="list"):
        gancourse.record("x.y", [1, 2])


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    runtime.atomic_write_bytes(target, b"one")
    runtime.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    """0666 minus the umask (0644 under the usual 022), not mkstemp's private 0600."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = runtime.atomic_write_bytes(tmp_path / "student.ipynb", b"{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(runtime.atomic_write_bytes(tmp_path / "private", b"x").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_setup_and_pick(tmp_path):
    ctx = gancourse.setup(profile="smoke", seed=5, device="cpu", data_root=tmp_path,
                          offline=True, metrics_path=tmp_path / "m.json")
    assert (ctx.profile, ctx.seed, ctx.offline, ctx.data_root) == ("smoke", 5, True, tmp_path)
    assert (tmp_path / "m.json").exists()
    assert ctx.pick({"smoke": 1, "cpu": 2, "gpu": 3}) == 1
    with pytest.raises(KeyError, match="gpu"):
        ctx.pick({"smoke": 1, "cpu": 2})
    assert "profile=smoke" in str(ctx)
    assert torch.get_num_threads() == 1                     # smoke: tiny tensors, one thread
    before = torch.get_num_threads()
    gancourse.setup(profile="cpu", device="cpu", threads=2)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(before)
    runtime.configure_metrics(None)


def test_dry_run_picks_the_gpu_settings_with_their_dry_caps(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_DRY", "1")
    ctx = gancourse.setup(profile="gpu", device="cpu", data_root=tmp_path, offline=True)
    assert ctx.dry and ctx.mode == "gpu-dry" and "dry run" in str(ctx)
    settings = {"smoke": {"steps": 1}, "cpu": {"steps": 2},
                "gpu": {"steps": 10_000, "image_size": 64, "dataset": "cifar10"}, "dry": {"steps": 3}}
    assert ctx.pick(settings) == {"steps": 3, "image_size": 64, "dataset": "cifar10"}
    assert ctx.pick({"smoke": 1, "cpu": 2, "gpu": 3, "dry": 4}) == 4          # non-mappings: replaced
    with pytest.raises(KeyError, match="'dry' entry"):
        ctx.pick({"smoke": 1, "cpu": 2, "gpu": 3})
    with pytest.raises(ValueError, match="gpu profile's code path.*'smoke'"):
        gancourse.setup(profile="smoke", device="cpu", data_root=tmp_path)
    monkeypatch.setenv("GANCOURSE_DRY", "maybe")
    with pytest.raises(ValueError, match="GANCOURSE_DRY='maybe'"):
        gancourse.setup(profile="gpu", device="cpu", data_root=tmp_path)
    monkeypatch.delenv("GANCOURSE_DRY")
    plain = gancourse.setup(profile="gpu", device="cpu", data_root=tmp_path)
    assert not plain.dry and plain.mode == "gpu" and plain.pick(settings)["steps"] == 10_000
