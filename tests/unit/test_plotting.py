"""The 1-D network curve the figures draw and the explorers save."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402

from plateau_lib.network import ShallowReLU  # noqa: E402
from plateau_lib.plotting import CURVE_POINTS, network_curve_1d, plot_network_1d  # noqa: E402


def test_the_curve_spans_the_data_and_is_the_network_there():
    X = np.array([[0.3], [-0.7], [1.1]])
    net = ShallowReLU(np.array([2.0, -1.0]), np.array([[1.0], [-1.0]]), np.array([0.0, 0.2]))
    fine, curve = network_curve_1d(net, X)
    assert fine.shape == curve.shape == (CURVE_POINTS,)
    assert fine[0] == -0.7 and fine[-1] == 1.1 and np.all(np.diff(fine) > 0)
    expected = 2.0 * np.maximum(fine, 0.0) - np.maximum(0.2 - fine, 0.0)  # the formula, by hand
    assert_allclose(curve, expected, rtol=1e-14, atol=1e-15)


def test_plot_network_1d_draws_the_data_and_that_curve():
    X = np.linspace(-1.0, 1.0, 5)[:, None]
    y = X[:, 0] ** 2
    net = ShallowReLU(np.array([1.0]), np.array([[1.0]]), np.array([0.1]))
    fig, ax = plt.subplots()
    plot_network_1d(ax, net, X, y, label="net", breakpoints=False)
    data, line = ax.lines
    assert_array_equal(data.get_ydata(), y)
    fine, curve = network_curve_1d(net, X)
    assert line.get_label() == "net"
    assert_array_equal(line.get_xdata(), fine)
    assert_array_equal(line.get_ydata(), curve)
    plt.close(fig)


def _net_2d(scale: float) -> ShallowReLU:
    return ShallowReLU(np.array([scale, -1.0]), np.array([[1.0, 0.5], [0.0, 1.0]]), np.array([0.0, 0.3]))


def test_panels_that_compare_share_one_colour_scale_and_its_colourbar():
    from plateau_lib.plotting import figure, levels_colorbar, plot_network_2d, shared_levels_2d

    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.5, -0.5]])
    nets = [_net_2d(0.1), _net_2d(3.0)]
    levels = shared_levels_2d(nets, X, n=10)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 121), np.linspace(-1, 1, 121)), -1).reshape(-1, 2)
    values = np.concatenate([net(grid) for net in nets])
    assert levels[0] <= values.min() and levels[-1] >= values.max()  # every value of every panel on the scale
    assert np.all(np.diff(levels) > 0) and len(levels) <= 12
    fig, axes = figure(ncols=2, detached=True)
    for ax, net in zip(axes[0], nets, strict=True):
        plot_network_2d(ax, net, X, levels=levels)
        assert_array_equal(ax.collections[0].levels, levels)  # not levels of its own
    bar = levels_colorbar(fig, axes[0], levels, label="$N(x)$")
    assert bar.ax.get_ylabel() == "$N(x)$"
    assert_array_equal(bar.norm.boundaries, levels)


def test_counts_in_colour_for_the_neurons_picked_grey_for_the_rest():
    from types import SimpleNamespace

    from plateau_lib.plotting import figure, plot_counts

    result = SimpleNamespace(steps=np.arange(4), counts=np.array([[1, 2, 3]] * 4))  # what plot_counts reads
    fig, axes = figure(detached=True)
    plot_counts(axes[0, 0], result, highlight=[2, 0])
    colours = [line.get_color() for line in axes[0, 0].lines]
    assert colours == ["C1", "0.8", "C0"]  # neuron 0 second of the picked, neuron 1 grey, neuron 2 first


def test_a_row_spanning_axes_replaces_the_row():
    from plateau_lib.plotting import figure, span_row

    fig, axes = figure(nrows=2, ncols=2, detached=True)
    wide = span_row(fig, axes, 1)
    assert len(fig.axes) == 3 and wide in fig.axes and all(ax in fig.axes for ax in axes[0])
    spec = wide.get_subplotspec()
    assert (spec.rowspan, spec.colspan) == (range(1, 2), range(0, 2))
    assert not wide.spines["top"].get_visible()  # the book's style
