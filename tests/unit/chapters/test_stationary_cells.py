"""Stationary points cell by cell (plateau_lib.chapters.stationary_cells): the examples, the rules that choose
them, their sentences, checks and numbers.

Tolerances as in test_stationary_catalogue.py, stated at each test.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from conftest import grid_1d, net_1d, random_net
from numpy.testing import assert_allclose, assert_array_equal
from stationary_fixtures import SMALL, checked_rows, example_of, stub_row

from plateau_lib.chapters.stationary_catalogue import (
    _catalogue_row,
    run_to_stationary_point,
    stationary_catalogue,
)
from plateau_lib.chapters.stationary_cells import (
    MOST_CELLS_RULE,
    cell_example,
    describe_cell_fits,
    describe_cells_1d,
    example_values,
    find_example,
    most_cells_example,
    orientation_rule_agrees,
    worst_determined_deviation,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.network import ShallowReLU, loss
from plateau_lib.stationarity import (
    cell_labels,
    pattern_cells,
    polish_to_stationarity,
    stationarity_scores,
)


def test_describe_cells_1d_names_the_reason():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    # a neuron active on all data: every cell determined
    full = describe_cells_1d(net_1d([-1.5, 0.21], [1, 1], [1.0, 1.0]), X, y)
    assert full.startswith("1 of them break beyond the data") and "all 2 cells are determined" in full
    # opposite orientations at one gap: every cell determined, and no neuron is active on all data
    pair = describe_cells_1d(net_1d([0.21, 0.22], [1, -1], [1.0, 1.0]), X, y)
    assert pair.startswith("two of them break at one gap") and "all 2 cells" in pair
    # facing neurons: no cell determined, so no claim about determined cells is made
    facing = describe_cells_1d(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    assert "0 of its 3 cells are determined" in facing and "network *is*" not in facing
    assert "on the 3 undetermined ones it differs from the cell's regression line" in facing
    with pytest.raises(ValueError, match="1-D"):
        describe_cells_1d(ShallowReLU([1.0], [[1.0, 0.0]], [0.0]), np.zeros((3, 2)), np.ones(3))


def test_find_example_takes_the_first_match_then_searches_past_the_catalogue():
    rows = stationary_catalogue(SMALL, seed=0, executor=ThreadPoolExecutor(1))
    first, rule = find_example(rows, SMALL, "polished", lambda r: r.polished)
    assert first is next(r for r in rows if r.polished) and rule == "the first catalogue run polished"
    # no catalogue row has seed 3: the search runs seeds 2, 3 (after the catalogue's 0, 1) at every width
    later, rule = find_example(rows, SMALL, "of seed 3 at width 5", lambda r: r.seed == 3 and r.width == 5)
    assert (later.seed, later.width) == (3, 5) and "seeds from 2 on" in rule and "seed 3 qualifies" in rule
    assert later.loss == _catalogue_row((SMALL, 5, 3, False)).loss  # the run the catalogue would have made
    with pytest.raises(RuntimeError, match=r"nor of seeds 2\.\.2 is wider than 99"):
        find_example(rows, SMALL, "wider than 99", lambda r: r.width > 99, max_tries=1)
    with pytest.raises(TypeError, match="CatalogueSettings"):
        find_example(rows, "settings", "polished", lambda r: r.polished)


def test_describe_cell_fits_in_2d():
    g = np.linspace(-1, 1, 9)
    X = np.array([(a, b) for a in g for b in g])
    y = np.abs(X[:, 0]) + X[:, 1] ** 2
    crossing = pattern_cells(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.05, 0.05]), X, y)
    text = describe_cell_fits(crossing, y)
    assert text.startswith("no cell is determined; on every cell the network differs")
    nested = pattern_cells(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [1.0, 0.0]], [0.6, -0.3]), X, y)
    text = describe_cell_fits(nested, y)
    assert text.startswith("2 of the cells are determined") and "each undetermined cell" in text
    with pytest.raises(ValueError, match="cells"):
        describe_cell_fits([], y)


def test_cell_example_of_a_polish(converged_run):
    X, y, result = converged_run
    polish = polish_to_stationarity(result.net, X, y)
    assert polish.accepted
    example = cell_example("width 5, seed 8", polish, X, y)
    cells = pattern_cells(polish.net, X, y, list(polish.neurons))
    assert example.neurons == polish.neurons and len(example.cells) == len(cells) > 1
    assert example.loss == pytest.approx(loss(polish.net, X, y), rel=1e-12)
    assert example.n_determined == sum(c.determined for c in cells)
    assert_array_equal(example.labels, cell_labels(cells, len(y)))
    assert_array_equal(example.outputs, polish.net(X))
    assert_allclose(example.relative_deviations, [c.deviation / np.max(np.abs(y)) for c in cells])
    assert example.determined_deviations and max(example.determined_deviations) <= 1e-10  # fact 4
    assert example.rule_agrees()
    assert_allclose(example.interval_deviations(), example.cell_deviations(), rtol=0, atol=1e-12)
    lines = example.describe_1d().splitlines()
    assert lines[0].startswith("width 5, seed 8: loss ") and len(lines) == 1 + len(cells)
    assert lines[1].startswith("  cell 0: x in [-1.00, ")
    with pytest.raises(ValueError, match="polish must be accepted"):
        cell_example("x", replace(polish, accepted=False, message="rejected: moved"), X, y)
    with pytest.raises(TypeError, match="polish"):
        cell_example("x", result, X, y)


def test_relative_moment_sums_are_the_stationarity_scores():
    # R_j is the sum of the moments of the cells inside A_j, and the scores are ||R_j|| on the same scale
    net, X, y = random_net(3, 3, 2)
    example = example_of(net, X, y)
    scores = stationarity_scores(net, X, y)[list(example.neurons)]
    assert_allclose(example.relative_moment_sums(), scores, rtol=1e-10, atol=1e-15)
    assert example.moments.shape == (len(example.cells), 3)
    with pytest.raises(ValueError, match="1-D example"):
        example.describe_1d()
    with pytest.raises(ValueError, match="1-D example"):
        example.rule_agrees()


def test_most_cells_example_reruns_the_catalogue_run():
    rows = [stub_row(3, True, 2), replace(stub_row(3, True, 4), seed=1), stub_row(5, True, 4), stub_row(5, False, 1)]
    choice = most_cells_example(rows, SMALL)  # most cells, then the smaller width: width 3, seed 1
    assert (choice.rule, choice.width, choice.seed, choice.search) == (MOST_CELLS_RULE, 3, 1, None)
    direct = run_to_stationary_point("plateau_1d", 1, width=3, steps=SMALL.steps, gtol=SMALL.gtol)[1]
    # the synthetic row claims a polish; the real run does not reach one, and the caller's check sees it
    assert not choice.polish.accepted and choice.polish.message == direct.message
    assert choice.describe() == f"example: the catalogue's run {MOST_CELLS_RULE}"
    with pytest.raises(TypeError, match="settings"):
        most_cells_example(rows, {"widths": (3,)})


def test_most_cells_example_searches_on_when_no_run_qualifies():
    choice = most_cells_example([stub_row(3, True, 1), stub_row(5, False, 1)], SMALL, seed=0)
    assert choice.search is not None and choice.seed == choice.search.seed >= SMALL.seeds
    assert choice.width in SMALL.widths and choice.polish.accepted
    X, y = get_experiment("plateau_1d").data()
    assert len(pattern_cells(choice.polish.net, X, y, list(choice.polish.neurons))) > 1
    assert choice.rule.startswith(f"the first seed from {SMALL.seeds} on") and "at any width" in choice.rule
    assert choice.describe().splitlines()[1:] == choice.search.describe().splitlines()
    # every width of a seed is run, in order: the smaller widths of the chosen seed, and every width of
    # the seeds passed over, do not qualify
    def qualifies(width, seed):
        row = _catalogue_row((SMALL, width, seed, False))
        return row.polished and row.n_cells > 1

    assert qualifies(choice.width, choice.seed)
    assert not any(qualifies(w, choice.seed) for w in SMALL.widths if w < choice.width)
    assert not any(qualifies(w, s) for s in choice.search.tried[:-1] for w in SMALL.widths)


def test_worst_values_over_examples():
    rows = checked_rows()
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    full = example_of(net_1d([-1.5, 0.21], [1, 1], [1.0, 1.0]), X, y)  # every cell determined, not stationary
    assert full.n_determined == len(full.cells) == 2
    assert worst_determined_deviation(rows, []) == 1e-13
    assert worst_determined_deviation(rows, [full]) == max(full.determined_deviations) > 1e-3
    facing = example_of(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    assert orientation_rule_agrees(rows, [full, facing])
    assert not orientation_rule_agrees([*rows, replace(rows[0], rule_agrees=False)], [full])


def test_example_values():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    outside = example_of(net_1d([0.21], [1], [1.0]), X, y)  # zero left of 0.21: a cell outside the active set
    shared = example_of(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    g = np.linspace(-1, 1, 9)
    X2 = np.array([(a, b) for a in g for b in g])
    y2 = np.abs(X2[:, 0]) + X2[:, 1] ** 2
    example_2d = example_of(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.05, 0.05]), X2, y2)
    values = example_values(outside, shared, example_2d)
    empty = next(c for c in outside.cells if not c.active)
    assert values["dev_b"] == pytest.approx(empty.deviation / np.max(np.abs(y)))
    assert values["dev_c_min"] == min(shared.relative_deviations)
    assert values["dev_c_max"] == max(shared.relative_deviations) > values["dev_c_min"]
    assert values["cells2_n"] == 4 and values["moment_sum_max"] == max(example_2d.relative_moment_sums())
    with pytest.raises(ValueError, match="outside must have a cell outside every active set"):
        example_values(shared, shared, example_2d)
