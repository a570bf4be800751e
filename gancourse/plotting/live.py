"""A live view of training for notebooks: loss curves and the latest samples, redrawn in place.

    trainer = GANTrainer(netG, netD, data, config, callbacks=[LivePlot(every=200)])
    trainer.fit()

Outside a notebook (papermill, nbval, scripts) it draws the same figures once per update,
so a bug in it fails every runner, not only JupyterLab.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from gancourse.plotting import figures as plotting


class LivePlot:
    """Training callback: every ``every`` steps (and at the last step) clear the cell output
    and show the history curves and the latest fixed-noise samples."""

    def __init__(self, every: int = 200,
                 keys: Sequence[Sequence[str]] = (("loss_D", "loss_G"), ("D_real", "D_fake")),
                 smooth: int = 10):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every, self.keys, self.smooth = every, [list(k) for k in keys], smooth
        self.updates = 0

    def __call__(self, trainer, event: str) -> None:
        last = trainer.step == trainer.config.steps
        if event != "log" or not (trainer.step % self.every == 0 or last):
            return
        from IPython.display import clear_output, display

        keys = [[k for k in panel if k in trainer.history] for panel in self.keys]
        keys = [panel for panel in keys if panel]
        figures = [plotting.plot_curves(trainer.history, keys=keys, smooth=self.smooth,
                                        title=f"step {trainer.step}/{trainer.config.steps}")]
        if trainer.snapshots:
            step, samples = trainer.snapshots[-1]
            if samples.ndim == 4:
                figures.append(plotting.image_grid(samples[:32], nrow=8, title=f"samples at step {step}"))
            elif samples.ndim == 2 and samples.shape[1] == 2:
                figures.append(plotting.scatter_2d(fake=samples, title=f"samples at step {step}"))
        clear_output(wait=True)
        for fig in figures:
            display(fig)
            plt.close(fig)
        self.updates += 1
