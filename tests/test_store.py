import pytest
import torch

from gancourse.models import DCGANGenerator, MLPGenerator
from gancourse.models.store import load_model, model_path, save_model


def test_round_trip_keeps_weights_kwargs_and_meta(tmp_path):
    torch.manual_seed(0)
    kwargs = dict(z_dim=8, channels=1, image_size=28, ngf=8)
    net = DCGANGenerator(**kwargs)
    path = save_model(net, "dcgan", "smoke", kwargs, meta={"fd": 3.5}, root=tmp_path)
    assert path == model_path("dcgan", "smoke", tmp_path) == tmp_path / "models" / "smoke" / "dcgan.pt"
    again, meta = load_model(DCGANGenerator, "dcgan", "smoke", root=tmp_path)
    assert meta == {"fd": 3.5} and not again.training
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert not model_path("dcgan", "cpu", tmp_path).exists()        # modes never collide


def test_missing_corrupt_and_mismatched_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 04.*same profile"):
        load_model(DCGANGenerator, "dcgan", "cpu", root=tmp_path, made_by="notebook 04")
    path = model_path("dcgan", "cpu", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt or unreadable.*rerun notebook 04"):
        load_model(DCGANGenerator, "dcgan", "cpu", root=tmp_path, made_by="notebook 04")
    save_model(MLPGenerator(2, 2, hidden=(4,)), "dcgan", "cpu", dict(z_dim=2, out_shape=2, hidden=(4,)),
               root=tmp_path)
    with pytest.raises(ValueError, match="holds a MLPGenerator, not a DCGANGenerator"):
        load_model(DCGANGenerator, "dcgan", "cpu", root=tmp_path)
    with pytest.raises(ValueError, match="plain model name"):
        model_path("a/b", "cpu")
