"""Figures for the course: image grids, training curves, densities, 2D clouds, evolutions.

Every function returns a matplotlib ``Figure`` (or a ``FuncAnimation``) and never calls
``plt.show``; functions that draw into one axes accept ``ax=`` and then return ``ax.figure``.
Figures are created through pyplot, so notebooks using the inline backend show them at the
end of the cell (write ``_ = image_grid(...)``). No backend is chosen here.

Images are float (B, C, H, W) in [-1, 1] with C in {1, 3}; they are shown as (x + 1) / 2.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torchvision.utils import make_grid

from gancourse.runtime import atomic_write_bytes

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]
Snapshot = tuple[int, ArrayLike]
_PANEL_COLS = 4  # panels per row in sample_evolution


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_images(images: ArrayLike) -> torch.Tensor:
    """Validate (B, C, H, W) float images in [-1, 1]; return them mapped to [0, 1] on the CPU."""
    t = images.detach().cpu() if isinstance(images, torch.Tensor) else torch.as_tensor(images)
    if t.dim() != 4 or t.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (B, C, H, W) with C in {{1, 3}}, "
                         f"got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"images must be floats in [-1, 1], got dtype {t.dtype}")
    return ((t.float() + 1) / 2).clamp(0, 1)  # (B, C, H, W) in [0, 1]


def _draw_grid(ax: Axes, images: ArrayLike, nrow: int, labels: Sequence[str] | None = None,
               title: str | None = None) -> None:
    """Tile images with make_grid into one picture; labels go in the white gap above each cell."""
    t = _check_images(images)
    b, c, h, w = t.shape
    if labels is not None and len(labels) != b:
        raise ValueError(f"got {len(labels)} labels for {b} images; give one label per image")
    pad = max(2, h // 3) if labels is not None else 2
    grid = make_grid(t, nrow=nrow, padding=pad, pad_value=1.0)  # (3, H', W')
    if b == 1:  # make_grid returns a single image unpadded
        grid = F.pad(grid, (pad, pad, pad, pad), value=1.0)
    if c == 1:
        ax.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if labels is not None:
        ncol = min(nrow, b)
        for i, label in enumerate(labels):
            row, col = divmod(i, ncol)
            ax.text(pad + col * (w + pad) + w / 2, row * (h + pad) + pad / 2, str(label),
                    ha="center", va="center", fontsize=7, clip_on=True)
    if title:
        ax.set_title(title)


def image_grid(images: ArrayLike, nrow: int = 8, title: str | None = None,
               labels: Sequence[str] | None = None, ax: Axes | None = None,
               figsize: tuple[float, float] | None = None) -> Figure:
    """Show a batch of images (B, C, H, W) in [-1, 1] as a grid with ``nrow`` images per row."""
    if ax is None:
        t = _check_images(images)
        ncol, nrows = min(nrow, t.shape[0]), -(-t.shape[0] // nrow)
        inch = min(0.9, 10.0 / ncol)  # per cell, at most 10 inches wide
        figsize = figsize or (ncol * inch + 0.2, nrows * inch * 1.1 + (0.4 if title else 0.1))
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    _draw_grid(ax, images, nrow, labels, title)
    return ax.figure


def _panels(history: Mapping[str, Sequence[float]],
            keys: str | Sequence[str] | Sequence[Sequence[str]] | None) -> list[list[str]]:
    valid = [k for k in history if k != "step"]
    if keys is None:                       # wall-clock time is bookkeeping, not a curve to compare
        panels = [[k for k in valid if k != "time_s"]]
    elif isinstance(keys, str):
        panels = [[keys]]
    elif all(isinstance(k, str) for k in keys):
        panels = [list(keys)]
    else:
        panels = [[k] if isinstance(k, str) else list(k) for k in keys]
    for key in (k for panel in panels for k in panel):
        if key not in valid:
            raise KeyError(f"unknown history key {key!r}; valid keys: {valid}")
    if not panels or not all(panels):
        raise ValueError(f"nothing to plot: choose keys among {valid}")
    return panels


def _moving_average(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing mean: y_s[i] = mean(y[i - window + 1 .. i]), placed at x[i]."""
    window = min(window, len(y))
    return x[window - 1:], np.convolve(y, np.ones(window) / window, mode="valid")


def plot_curves(history: Mapping[str, Sequence[float]],
                keys: str | Sequence[str] | Sequence[Sequence[str]] | None = None,
                title: str | None = None, smooth: int = 0, logy: bool = False,
                ax: Axes | None = None) -> Figure:
    """Plot logged series against ``history["step"]`` (or their index), one panel per key list.

    With ``smooth`` > 1 each series is drawn faintly and its ``smooth``-point moving average
    on top. ``keys=[["loss_D", "loss_G"], ["D_real", "D_fake"]]`` draws two panels.
    """
    if smooth < 0:
        raise ValueError(f"smooth must be a window length >= 0, got {smooth}")
    panels = _panels(history, keys)
    if ax is not None and len(panels) > 1:
        raise ValueError(f"ax= draws one panel but keys ask for {len(panels)}")
    if ax is None:
        _, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.6),
                               layout="constrained", squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax]
    xlabel = "step" if "step" in history else "iteration"
    for panel_ax, panel in zip(axes, panels):
        for key in panel:
            y = np.asarray(history[key], dtype=float)
            x = np.asarray(history["step"], dtype=float) if "step" in history else np.arange(len(y))
            if len(x) != len(y):
                raise ValueError(f"history[{key!r}] has {len(y)} values but 'step' has {len(x)}")
            if smooth > 1 and len(y):
                (raw,) = panel_ax.plot(x, y, alpha=0.25, linewidth=0.8)
                panel_ax.plot(*_moving_average(x, y, smooth), color=raw.get_color(), label=key)
            else:
                panel_ax.plot(x, y, label=key)
        panel_ax.set_xlabel(xlabel)
        panel_ax.set_ylabel(panel[0] if len(panel) == 1 else "value")
        if logy:
            panel_ax.set_yscale("log")
        panel_ax.grid(alpha=0.3)
        panel_ax.legend(fontsize=9)
    if title:
        (axes[0].set_title if len(axes) == 1 else axes[0].figure.suptitle)(title)
    return axes[0].figure


def plot_densities_1d(x: ArrayLike, densities: Mapping[str, ArrayLike],
                      samples: Mapping[str, ArrayLike] | None = None, title: str | None = None,
                      ax: Axes | None = None, xlabel: str = "x") -> Figure:
    """Draw densities p(x) on the grid ``x`` as lines and samples as histograms of unit mass.

    A histogram with label L takes the colour of the density L when there is one. Bins span the
    grid; each bin's height is count / (M * width), so mass outside the grid is simply not shown.
    """
    x = _to_numpy(x).astype(float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x must be a 1D grid of at least 2 points, got shape {x.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    samples = samples or {}
    colour = {k: f"C{i}" for i, k in enumerate(dict.fromkeys([*densities, *samples]))}
    for label, p in densities.items():
        p = _to_numpy(p)
        if p.shape != x.shape:
            raise ValueError(f"density {label!r} has shape {p.shape}, expected {x.shape} like x")
        ax.plot(x, p, linewidth=2, color=colour[label], label=label)
    edges = np.linspace(x.min(), x.max(), 61)  # (61,)
    for label, s in samples.items():
        s = _to_numpy(s).astype(float).reshape(-1)  # (M,)
        weights = np.full(len(s), 1.0 / (len(s) * (edges[1] - edges[0])))
        ax.hist(s, bins=edges, weights=weights, histtype="stepfilled", alpha=0.35,
                color=colour[label], label=f"{label} (samples)" if label in densities else label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return ax.figure


def _check_points(points: ArrayLike, name: str) -> np.ndarray:
    p = _to_numpy(points).astype(float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must be an (N, 2) array of 2D points, got shape {p.shape}")
    return p


def _subsample(points: np.ndarray, max_points: int) -> np.ndarray:
    if len(points) <= max_points:
        return points
    keep = np.random.default_rng(0).choice(len(points), max_points, replace=False)
    return points[np.sort(keep)]


def _extent(clouds: Sequence[np.ndarray], margin: float = 0.1) -> tuple[float, ...]:
    """Bounding box of all points, widened by ``margin`` times its size on every side."""
    pts = np.concatenate(clouds)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def _draw_density(ax: Axes, density: Callable, extent: Sequence[float], log_density: bool,
                  resolution: int = 200) -> None:
    """Contours where log p = max log p - r^2 / 2, r = 1, 2, 3 (1-3 sigma of a Gaussian mode)."""
    xs = np.linspace(extent[0], extent[1], resolution)
    ys = np.linspace(extent[2], extent[3], resolution)
    gx, gy = np.meshgrid(xs, ys)
    values = _to_numpy(density(np.stack([gx.ravel(), gy.ravel()], axis=1))).astype(float)
    if values.shape != (gx.size,):
        raise ValueError(f"density must map (M, 2) points to (M,) values, got {values.shape}")
    logp = values if log_density else np.log(np.maximum(values, np.finfo(float).tiny))
    top = logp.max()
    ax.contour(gx, gy, logp.reshape(gx.shape), levels=[top - 4.5, top - 2.0, top - 0.5],
               colors="0.15", linewidths=1.0, linestyles="solid", zorder=3)


def _draw_points(ax: Axes, real: np.ndarray | None, fake: np.ndarray | None,
                 extent: Sequence[float]) -> None:
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=6, alpha=0.5, color="tab:blue", label="real")
    if fake is not None:
        ax.scatter(fake[:, 0], fake[:, 1], s=6, alpha=0.5, color="tab:orange", label="fake")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def scatter_2d(real: ArrayLike | None = None, fake: ArrayLike | None = None,
               density: Callable | None = None, extent: Sequence[float] | None = None,
               title: str | None = None, ax: Axes | None = None, max_points: int = 2000,
               log_density: bool = False) -> Figure:
    """Scatter 2D real/fake clouds (N, 2) over contour lines of ``density`` (or log-density).

    ``extent`` = (xmin, xmax, ymin, ymax), by default the data's box plus a 10% margin.
    At most ``max_points`` points per cloud are drawn (a fixed random subset).
    """
    clouds = {name: _subsample(_check_points(p, name), max_points)
              for name, p in (("real", real), ("fake", fake)) if p is not None}
    if not clouds and density is None:
        raise ValueError("scatter_2d needs real, fake or density")
    if extent is None:
        if not clouds:
            raise ValueError("give extent=(xmin, xmax, ymin, ymax) to draw a density alone")
        extent = _extent(list(clouds.values()))
    if len(extent) != 4:
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax), got {extent}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    handles = []
    if density is not None:
        _draw_density(ax, density, extent, log_density)
        handles.append(Line2D([], [], color="0.15", label="density (1-3σ)"))
    _draw_points(ax, clouds.get("real"), clouds.get("fake"), extent)
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize=9, markerscale=2,
              loc="upper right")
    if title:
        ax.set_title(title)
    return ax.figure


def _snapshot_kind(snapshots: Sequence[Snapshot]) -> str:
    """'images' for (B, C, H, W) snapshots, 'points' for (N, 2); all must be of one kind."""
    if not snapshots:
        raise ValueError("snapshots is empty; give a list of (step, images or points)")
    kinds = set()
    for step, data in snapshots:
        shape = tuple(data.shape) if hasattr(data, "shape") else np.shape(data)
        if len(shape) == 4:
            kinds.add("images")
        elif len(shape) == 2 and shape[1] == 2:
            kinds.add("points")
        else:
            raise ValueError(f"snapshot at step {step} has shape {shape}; expected images "
                             f"(B, C, H, W) or points (N, 2)")
    if len(kinds) > 1:
        raise ValueError("snapshots mix images and points; use one kind")
    return kinds.pop()


def _evolution_extent(snapshots: Sequence[Snapshot]) -> tuple[float, ...]:
    """One box for every snapshot, so that panels and frames share their axes."""
    return _extent([_check_points(p, f"snapshot at step {s}") for s, p in snapshots])


def _draw_snapshot(ax: Axes, kind: str, step: int, data: ArrayLike, nrow: int,
                   extent: Sequence[float] | None) -> None:
    if kind == "images":
        _draw_grid(ax, data, nrow)
    else:
        _draw_points(ax, None, _subsample(_check_points(data, "points"), 2000), extent)
    ax.set_title(f"step {step}")


def sample_evolution(snapshots: Sequence[Snapshot], nrow: int = 8,
                     max_snapshots: int = 8) -> Figure:
    """Panels of samples over training: up to ``max_snapshots`` evenly spaced snapshots."""
    kind = _snapshot_kind(snapshots)
    picks = np.unique(np.linspace(0, len(snapshots) - 1, min(max_snapshots, len(snapshots)))
                      .round().astype(int))
    chosen = [snapshots[i] for i in picks]
    extent = _evolution_extent(chosen) if kind == "points" else None
    nrows = -(-len(chosen) // _PANEL_COLS)
    ncols = -(-len(chosen) // nrows)  # balanced rows, at most _PANEL_COLS panels each
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.3 * nrows),
                             layout="constrained", squeeze=False)
    for ax in axes.ravel()[len(chosen):]:
        fig.delaxes(ax)
    for ax, (step, data) in zip(axes.ravel(), chosen):
        _draw_snapshot(ax, kind, step, data, nrow, extent)
    return fig


def animate_evolution(snapshots: Sequence[Snapshot], interval: int = 300,
                      nrow: int = 8) -> FuncAnimation:
    """One frame per snapshot; show in a notebook with ``HTML(anim.to_jshtml())``.

    The figure is closed right away so the inline backend does not display it a second time.
    """
    kind = _snapshot_kind(snapshots)
    extent = _evolution_extent(snapshots) if kind == "points" else None
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")

    def draw(i: int) -> list:
        ax.clear()
        _draw_snapshot(ax, kind, *snapshots[i], nrow, extent)
        return []

    anim = FuncAnimation(fig, draw, frames=len(snapshots), interval=interval, blit=False)
    plt.close(fig)
    return anim


def bar_compare(values: Mapping[str, float], reference: Mapping[str, float] | None = None,
                ylabel: str = "value", title: str | None = None, ax: Axes | None = None,
                names: tuple[str, str] = ("ours", "reference"), xlabel: str = "metric") -> Figure:
    """Grouped bars: ``values`` next to ``reference`` per key, each bar labelled with its value.

    Keys are those of ``values`` then any only in ``reference``; a missing value has no bar.
    """
    if not values:
        raise ValueError("values is empty; give a dict of name -> number")
    reference = reference or {}
    keys = list(values) + [k for k in reference if k not in values]
    series = [(names[0], values)] + ([(names[1], reference)] if reference else [])
    width = 0.8 / len(series)
    if ax is None:
        inches = min(12.0, max(4.0, 1.5 + len(keys) * (0.4 + 0.5 * len(series))))
        _, ax = plt.subplots(figsize=(inches, 3.8), layout="constrained")
    x = np.arange(len(keys))
    for j, (name, data) in enumerate(series):
        heights = np.array([float(data.get(k, np.nan)) for k in keys])
        bars = ax.bar(x + (j - (len(series) - 1) / 2) * width, heights, width, label=name)
        ax.bar_label(bars, labels=[f"{h:.3g}" if np.isfinite(h) else "" for h in heights],
                     fontsize=8, padding=2)
    long_names = max(len(k) for k in keys) > 10
    ax.set_xticks(x, keys, rotation=20 if long_names else 0, ha="right" if long_names else "center")
    ax.margins(y=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if reference:
        ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return ax.figure


def save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path`` (parents created, written atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save writes PNG files; path must end in .png, got {path.name!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buffer.getvalue())
