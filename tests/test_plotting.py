import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gancourse import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_rendered(fig: Figure) -> None:
    """The drawn canvas has contrast and more than two colours (not a blank or flat image)."""
    fig.set_dpi(40)  # small canvas: fast to draw
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())  # (H, W, 4)
    assert rgba[..., :3].std() > 10
    assert len(np.unique(rgba.reshape(-1, 4), axis=0)) > 2


def assert_labelled(ax) -> None:
    assert ax.get_xlabel() and ax.get_ylabel()


def normal_pdf(x: np.ndarray, mean: float = 0.0) -> np.ndarray:
    return np.exp(-0.5 * (x - mean) ** 2) / np.sqrt(2 * np.pi)


def polygon_area(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


# ----------------------------------------------------------------------------- image_grid
def test_image_grid_gray_tiles_images_with_gray_colormap():
    images = -torch.ones(10, 1, 6, 5)  # black
    images[1] = 1.0  # one white image, second cell of the first row
    fig = plotting.image_grid(images, nrow=4, title="samples")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (im,) = ax.images
    grid = im.get_array()
    pad = 2
    assert grid.shape == (3 * (6 + pad) + pad, 4 * (5 + pad) + pad)  # 3 rows of 4 cells
    assert im.get_cmap().name == "gray"
    assert grid[pad + 3, pad + 2] == 0.0  # centre of image 0: -1 -> 0
    assert grid[pad + 3, pad + (5 + pad) + 2] == 1.0  # centre of image 1: +1 -> 1
    assert grid[0, 0] == 1.0  # white padding
    assert ax.get_title() == "samples"
    assert_rendered(fig)


def test_image_grid_rgb_numpy_maps_and_clamps_values():
    images = np.zeros((2, 3, 4, 4), dtype=np.float32)
    images[1] = 3.0  # out of range -> clamped to white
    fig = plotting.image_grid(images, nrow=2)
    grid = np.asarray(fig.axes[0].images[0].get_array())
    assert grid.shape == (4 + 4, 2 * 6 + 2, 3)
    np.testing.assert_allclose(grid[3, 3], [0.5, 0.5, 0.5])  # 0 -> 0.5
    np.testing.assert_allclose(grid[3, 9], [1.0, 1.0, 1.0])


def test_image_grid_labels_one_text_per_image():
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    labels = ["zero", "one", "two", "three", "four"]
    fig = plotting.image_grid(images, nrow=3, labels=labels)
    assert [t.get_text() for t in fig.axes[0].texts] == labels
    assert_rendered(fig)


def test_image_grid_single_image_with_label_is_padded():
    fig = plotting.image_grid(torch.zeros(1, 1, 9, 9), labels=["only"])
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (9 + 2 * 3, 9 + 2 * 3)  # pad = 9 // 3 on every side
    assert fig.axes[0].texts[0].get_text() == "only"


@pytest.mark.parametrize("shape", [(4, 8, 8), (2, 2, 8, 8), (2, 4, 8, 8)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) with C in \{1, 3\}"):
        plotting.image_grid(torch.zeros(shape))


def test_image_grid_rejects_integer_images_and_wrong_label_count():
    with pytest.raises(TypeError, match="floats in"):
        plotting.image_grid(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        plotting.image_grid(torch.zeros(3, 1, 4, 4), labels=["a", "b"])


def test_image_grid_draws_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plotting.image_grid(torch.zeros(4, 3, 4, 4), ax=axes[1]) is fig
    assert len(axes[1].images) == 1 and len(axes[0].images) == 0


# ----------------------------------------------------------------------------- plot_curves
HISTORY = {"step": [10, 20, 30, 40], "loss_D": [0.0, 3.0, 6.0, 9.0], "loss_G": [1.0, 1.0, 2.0, 2.0]}


def test_plot_curves_plots_all_keys_against_step():
    fig = plotting.plot_curves(HISTORY, title="losses")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["loss_D", "loss_G"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), HISTORY["step"])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), HISTORY["loss_G"])
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "value"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss_D", "loss_G"]
    assert ax.get_title() == "losses"
    assert_rendered(fig)


def test_plot_curves_without_step_uses_iteration_index():
    fig = plotting.plot_curves({"fd": [3.0, 2.0, 1.0]}, logy=True)
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1, 2])
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "fd"
    assert ax.get_yscale() == "log"


def test_plot_curves_smooth_is_trailing_moving_average():
    fig = plotting.plot_curves(HISTORY, keys=["loss_D"], smooth=3)
    raw, smoothed = fig.axes[0].lines
    np.testing.assert_array_equal(raw.get_ydata(), HISTORY["loss_D"])
    np.testing.assert_allclose(smoothed.get_xdata(), [30, 40])
    np.testing.assert_allclose(smoothed.get_ydata(), [3.0, 6.0])  # (0+3+6)/3, (3+6+9)/3
    assert smoothed.get_color() == raw.get_color()


def test_plot_curves_several_panels_side_by_side():
    fig = plotting.plot_curves(HISTORY, keys=[["loss_D", "loss_G"], ["loss_G"]], title="t")
    assert [len(ax.lines) for ax in fig.axes] == [2, 1]
    assert fig.axes[0].get_position().x0 < fig.axes[1].get_position().x0
    for ax in fig.axes:
        assert_labelled(ax)
    assert fig.get_suptitle() == "t"
    assert_rendered(fig)


@pytest.mark.parametrize("keys", [["loss_D", "nope"], [["loss_D"], ["nope"]], "step"])
def test_plot_curves_unknown_key_names_valid_keys(keys):
    with pytest.raises(KeyError, match=r"valid keys: \['loss_D', 'loss_G'\]"):
        plotting.plot_curves(HISTORY, keys=keys)


def test_plot_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="'step' has 4"):
        plotting.plot_curves({"step": [1, 2, 3, 4], "a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="smooth"):
        plotting.plot_curves(HISTORY, smooth=-1)
    with pytest.raises(ValueError, match="nothing to plot"):
        plotting.plot_curves({"step": [1]})
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="one panel"):
        plotting.plot_curves(HISTORY, keys=[["loss_D"], ["loss_G"]], ax=ax)


def test_plot_curves_draws_into_given_axes():
    fig, ax = plt.subplots()
    assert plotting.plot_curves(HISTORY, keys="loss_G", ax=ax) is fig
    assert len(ax.lines) == 1


# ----------------------------------------------------------------------------- plot_densities_1d
def test_plot_densities_1d_lines_and_unit_mass_histograms_in_matching_colours():
    x = np.linspace(-6, 6, 301)
    rng = np.random.default_rng(0)
    densities = {"p_data": normal_pdf(x), "p_g": normal_pdf(x, 2.0)}
    samples = {"p_g": rng.normal(2.0, 1.0, 500).clip(-5, 5), "other": rng.uniform(-1, 1, 300)}
    fig = plotting.plot_densities_1d(x, densities, samples=samples, title="two Gaussians")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["p_data", "p_g"]
    assert len(ax.patches) == 2
    hist_g, hist_other = ax.patches
    assert matplotlib.colors.same_color(hist_g.get_facecolor()[:3], ax.lines[1].get_color())
    for line in ax.lines:
        assert not matplotlib.colors.same_color(hist_other.get_facecolor()[:3], line.get_color())
    assert polygon_area(hist_g.get_xy()) == pytest.approx(1.0)  # histogram of unit mass
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "density"
    assert_rendered(fig)


def test_plot_densities_1d_mass_outside_grid_is_not_shown():
    x = np.linspace(0, 1, 11)
    samples = {"s": np.concatenate([np.full(50, 0.55), np.full(50, 3.0)])}  # half outside
    fig = plotting.plot_densities_1d(x, {}, samples=samples, xlabel="t")
    assert polygon_area(fig.axes[0].patches[0].get_xy()) == pytest.approx(0.5)
    assert fig.axes[0].get_xlabel() == "t"


def test_plot_densities_1d_rejects_bad_shapes_and_reuses_axes():
    with pytest.raises(ValueError, match="1D grid"):
        plotting.plot_densities_1d(np.zeros((3, 2)), {})
    with pytest.raises(ValueError, match="density 'p' has shape"):
        plotting.plot_densities_1d(np.linspace(0, 1, 5), {"p": np.ones(4)})
    fig, ax = plt.subplots()
    assert plotting.plot_densities_1d(np.linspace(0, 1, 5), {"p": np.ones(5)}, ax=ax) is fig
    assert len(ax.lines) == 1


# ----------------------------------------------------------------------------- scatter_2d
def gaussian_pdf(z: np.ndarray) -> np.ndarray:
    """Standard 2D normal density, (M, 2) -> (M,)."""
    return normal_pdf(z[:, 0]) * normal_pdf(z[:, 1])


def test_scatter_2d_real_and_fake_clouds_with_default_extent():
    real = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0]])
    fake = np.array([[5.0, 1.0]])
    fig = plotting.scatter_2d(real, torch.tensor(fake), title="clouds")
    (ax,) = fig.axes
    assert len(ax.collections) == 2
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), real)
    assert ax.get_xlim() == pytest.approx((-1.0, 11.0))  # 10% margin of the 10-wide box
    assert ax.get_ylim() == pytest.approx((-0.5, 5.5))
    assert ax.get_aspect() == 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["real", "fake"]
    assert_labelled(ax)
    assert_rendered(fig)


def test_scatter_2d_caps_points_with_a_subset():
    real = np.random.default_rng(0).normal(size=(500, 2))
    fig = plotting.scatter_2d(real=real, max_points=100)
    shown = fig.axes[0].collections[0].get_offsets()
    assert len(shown) == 100
    assert {tuple(p) for p in shown} <= {tuple(p) for p in real}


@pytest.mark.parametrize("log_density", [False, True])
def test_scatter_2d_density_contours_are_one_two_three_sigma(log_density):
    density = (lambda z: np.log(gaussian_pdf(z))) if log_density else gaussian_pdf
    fig = plotting.scatter_2d(real=np.zeros((5, 2)), density=density, extent=(-4, 4, -4, 4),
                              log_density=log_density)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-4, 4)
    contours = ax.collections[0]
    radii = [np.linalg.norm(p.vertices, axis=1).mean() for p in contours.get_paths()]
    np.testing.assert_allclose(radii, [3.0, 2.0, 1.0], atol=0.02)  # levels low to high
    assert "density (1-3σ)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert_rendered(fig)


def test_scatter_2d_rejects_bad_input():
    with pytest.raises(ValueError, match=r"real must be an \(N, 2\) array"):
        plotting.scatter_2d(real=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="needs real, fake or density"):
        plotting.scatter_2d()
    with pytest.raises(ValueError, match="density alone"):
        plotting.scatter_2d(density=gaussian_pdf)
    with pytest.raises(ValueError, match="extent must be"):
        plotting.scatter_2d(real=np.zeros((2, 2)), extent=(0, 1))
    with pytest.raises(ValueError, match=r"\(M,\) values"):
        plotting.scatter_2d(density=lambda z: z, extent=(0, 1, 0, 1))


def test_scatter_2d_draws_into_given_axes():
    fig, ax = plt.subplots()
    assert plotting.scatter_2d(fake=np.ones((3, 2)), ax=ax) is fig
    assert len(ax.collections) == 1


# ----------------------------------------------------------------------------- evolution
def image_snapshots(n: int) -> list:
    return [(100 * i, torch.rand(4, 1, 6, 6) * 2 - 1) for i in range(n)]


def point_snapshots(n: int) -> list:
    rng = np.random.default_rng(0)
    return [(10 * i, rng.normal(size=(30, 2)) * (i + 1)) for i in range(n)]


def test_sample_evolution_images_picks_evenly_spaced_snapshots():
    fig = plotting.sample_evolution(image_snapshots(10), nrow=2, max_snapshots=4)
    assert [ax.get_title() for ax in fig.axes] == ["step 0", "step 300", "step 600", "step 900"]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    assert fig.axes[0].images[0].get_array().shape == (2 * 8 + 2, 2 * 8 + 2)  # 2x2 grid
    assert_rendered(fig)


def test_sample_evolution_points_share_one_extent():
    snaps = point_snapshots(5)
    fig = plotting.sample_evolution(snaps)
    assert len(fig.axes) == 5  # 2 rows of 3, the spare panel removed
    assert [ax.get_title() for ax in fig.axes] == [f"step {10 * i}" for i in range(5)]
    for ax in fig.axes:
        assert ax.get_xlim() == fig.axes[0].get_xlim() and len(ax.collections) == 1
        assert_labelled(ax)
    biggest = np.abs(snaps[-1][1]).max()
    assert max(np.abs(fig.axes[0].get_xlim() + fig.axes[0].get_ylim())) > biggest
    assert_rendered(fig)


@pytest.mark.parametrize("snapshots, message", [
    ([], "empty"),
    ([(0, np.zeros((5, 3)))], r"expected images \(B, C, H, W\) or points \(N, 2\)"),
    ([(0, np.zeros((5, 2))), (1, torch.zeros(2, 1, 4, 4))], "mix images and points"),
])
def test_evolution_rejects_bad_snapshots(snapshots, message):
    with pytest.raises(ValueError, match=message):
        plotting.sample_evolution(snapshots)
    with pytest.raises(ValueError, match=message):
        plotting.animate_evolution(snapshots)


def jshtml_frames(anim: FuncAnimation) -> list[np.ndarray]:
    html = anim.to_jshtml()
    encoded = re.findall(r'data:image/png;base64,([^"]+)"', html)
    return [plt.imread(io.BytesIO(base64.b64decode(e))) for e in encoded]


@pytest.mark.parametrize("snapshots", [point_snapshots(3), image_snapshots(3)])
def test_animate_evolution_one_frame_per_snapshot_and_closed_figure(snapshots):
    before = set(plt.get_fignums())
    anim = plotting.animate_evolution(snapshots, interval=100, nrow=2)
    assert isinstance(anim, FuncAnimation)
    assert set(plt.get_fignums()) == before  # closed: inline shows it only through the HTML
    assert len(list(anim.new_frame_seq())) == 3
    frames = jshtml_frames(anim)
    assert len(frames) == 3
    for frame in frames:
        assert frame[..., :3].std() > 0.05
    assert not np.array_equal(frames[0], frames[-1])


# ----------------------------------------------------------------------------- bar_compare
def test_bar_compare_single_series_with_value_labels():
    fig = plotting.bar_compare({"mnist": 1.5, "fashion": 2.25}, ylabel="FD", title="floors")
    (ax,) = fig.axes
    assert [p.get_height() for p in ax.patches] == [1.5, 2.25]
    assert [t.get_text() for t in ax.texts] == ["1.5", "2.25"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mnist", "fashion"]
    assert ax.get_ylabel() == "FD" and ax.get_xlabel() == "metric"
    assert ax.get_legend() is None
    assert_rendered(fig)


def test_bar_compare_groups_values_with_reference():
    fig = plotting.bar_compare({"fd": 12.0, "is": 7.5}, {"fd": 10.0, "precision": 0.7},
                               names=("ours", "paper"))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fd", "is", "precision"]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_array_equal(heights, [12.0, 7.5, np.nan, 10.0, np.nan, 0.7])
    assert [t.get_text() for t in ax.texts] == ["12", "7.5", "", "10", "", "0.7"]
    assert ax.patches[0].get_x() < ax.patches[3].get_x()  # ours left of paper in a group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours", "paper"]
    assert_rendered(fig)


def test_bar_compare_rejects_empty_and_reuses_axes():
    with pytest.raises(ValueError, match="values is empty"):
        plotting.bar_compare({})
    fig, ax = plt.subplots()
    assert plotting.bar_compare({"a": 1.0}, ax=ax) is fig
    assert len(ax.patches) == 1


# ----------------------------------------------------------------------------- save
def test_save_writes_png_and_creates_parents(tmp_path):
    fig = plotting.bar_compare({"a": 1.0})
    path = plotting.save(fig, tmp_path / "deep" / "er" / "bars.png", dpi=50)
    assert path == tmp_path / "deep" / "er" / "bars.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.imread(path).std() > 0.05
    with pytest.raises(ValueError, match="must end in .png"):
        plotting.save(fig, tmp_path / "bars.pdf")
