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
