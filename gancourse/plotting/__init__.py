"""Plots for the course: figures (:mod:`.figures`) and a live training view (:mod:`.live`).

``from gancourse import plotting; plotting.image_grid(...)`` reaches all of them.
"""

from gancourse.plotting.figures import (
    animate_evolution,
    bar_compare,
    image_grid,
    plot_curves,
    plot_densities_1d,
    sample_evolution,
    save,
    scatter_2d,
)
from gancourse.plotting.live import LivePlot

__all__ = ["LivePlot", "animate_evolution", "bar_compare", "image_grid", "plot_curves",
           "plot_densities_1d", "sample_evolution", "save", "scatter_2d"]
