import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gancourse import data  # noqa: E402
from gancourse.models import MLPDiscriminator, MLPGenerator  # noqa: E402
from gancourse.plotting import LivePlot  # noqa: E402
from gancourse.training import GANTrainer, TrainConfig  # noqa: E402


def test_live_plot_redraws_every_n_steps_and_at_the_end(monkeypatch):
    shown, cleared = [], []
    monkeypatch.setattr("IPython.display.display", lambda fig: shown.append(fig))
    monkeypatch.setattr("IPython.display.clear_output", lambda wait=False: cleared.append(wait))
    live = LivePlot(every=4)
    netG, netD = MLPGenerator(2, 2, hidden=(8,), out_activation=None), MLPDiscriminator(2, hidden=(8,))
    config = TrainConfig(steps=10, batch_size=16, z_dim=2, progress=False, sample_every=5)
    trainer = GANTrainer(netG, netD, data.ring8(), config, device="cpu", callbacks=[live])
    trainer.fit()
    assert live.updates == 3                                 # steps 4, 8 and the last, 10
    assert len(cleared) == 3 and all(cleared)
    assert all(isinstance(f, Figure) for f in shown) and len(shown) == 6   # curves + samples
    assert shown[-2].get_suptitle() == "step 10/10"          # two panels: the title is a suptitle


def test_live_plot_images(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda fig: shown.append(fig))
    monkeypatch.setattr("IPython.display.clear_output", lambda wait=False: None)
    ds = data.load("digits")
    netG, netD = MLPGenerator(4, (1, 28, 28), hidden=(8,)), MLPDiscriminator((1, 28, 28), hidden=(8,))
    config = TrainConfig(steps=2, batch_size=8, z_dim=4, progress=False)
    trainer = GANTrainer(netG, netD, ds, config, device="cpu", callbacks=[LivePlot(every=1)])
    trainer.fit()
    assert len(shown) == 4


def test_live_plot_rejects_bad_interval():
    with pytest.raises(ValueError, match="every must be >= 1"):
        LivePlot(every=0)
