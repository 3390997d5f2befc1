"""Stationary points: the exact polish, the cells, the 1-D orientation rule, the catalogue.

Tolerances: identities exact in real arithmetic are checked to 1e-10 (relative or on O(1)
data), stationarity after the polish to the library's STATIONARITY_RTOL = 1e-10 (round-off is
~1e-16), and gradient-descent statements to what the stopping rule guarantees, stated at each test.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import grid_1d, net_1d, random_net
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.chapters.explanation import rows_to_arrays
from plateau_lib.chapters.stationary import (
    CATALOGUE_1D,
    CATALOGUE_2D,
    MOST_CELLS_RULE,
    POLISH_DEMO,
    CatalogueRow,
    CatalogueSettings,
    CellExample,
    _catalogue_row,
    _catalogue_rows,
    catalogue_2d_values,
    catalogue_table,
    catalogue_values,
    cell_example,
    describe_cell_fits,
    describe_cells_1d,
    describe_widths,
    example_values,
    find_example,
    first_polished_run,
    gap_bound,
    gd_end_stationarity,
    kinds_table,
    most_cells_example,
    orientation_rule_agrees,
    polish_scores,
    run_to_stationary_point,
    showcase_values,
    stationary_catalogue,
    stationary_kinds,
    worst_determined_deviation,
    worst_polished_stationarity,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.lower_bound import segmentation_lower_bound
from plateau_lib.network import ShallowReLU, loss
from plateau_lib.stationarity import (
    STATIONARITY_RTOL,
    cell_labels,
    max_stationarity,
    pattern_cells,
    polish_to_stationarity,
    stationarity_scores,
)
from plateau_lib.sweeps import SeedSearch

# --------------------------------------------------------------------------- scores


# --------------------------------------------------------------------------- polish


def test_gap_bound_holds_on_a_converged_run(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    bound = gap_bound(result.net, X, y, p.neurons)
    assert 0 <= result.final_loss - p.lstar <= bound * (1 + 1e-6) + 1e-15
    assert gap_bound(p.net, X, y, p.neurons) < 1e-20


# --------------------------------------------------------------------------- cells


# --------------------------------------------------------------------------- the 1-D orientation rule


# --------------------------------------------------------------------------- catalogue


SMALL = CatalogueSettings(widths=(3, 5), seeds=2, quick_seeds=2, steps=6_000, quick_steps=6_000)


def test_catalogue_rows_and_executors():
    pooled = stationary_catalogue(SMALL, seed=0)
    serial = stationary_catalogue(SMALL, seed=0, executor=ThreadPoolExecutor(1))
    for key, value in rows_to_arrays(pooled).items():  # same numbers in any executor (NaN == NaN here)
        assert_array_equal(value, rows_to_arrays(serial)[key], err_msg=key)
    assert [(r.width, r.seed) for r in pooled] == [(3, 0), (3, 1), (5, 0), (5, 1)]
    with pytest.raises(ValueError, match="share settings and quick"):
        _catalogue_rows([(SMALL, 3, 0, False), (SMALL, 3, 0, True)])
    X, y = get_experiment("plateau_1d").data()
    for r in pooled:
        assert isinstance(r, CatalogueRow)
        assert r.lower_bound == pytest.approx(segmentation_lower_bound(X, y, r.width + 1))
        assert r.lower_bound <= r.loss and r.lower_bound <= r.polished_loss
        if r.converged:
            assert r.grad_norm <= SMALL.gtol and abs(r.rel_gap) <= SMALL.loss_rtol
        if r.polished:
            # the acceptance rule's score, and the same score through another code path
            assert r.polished_stationarity_cs == pytest.approx(r.polished_stationarity, rel=1e-6, abs=1e-14)
            assert r.polished_stationarity_cs <= SMALL.stationarity_rtol and r.pattern_flips == 0
            assert r.polished_loss == pytest.approx(r.lstar, rel=1e-10)
            assert r.n_cells == r.n_determined + r.n_outside + r.n_shared and r.rule_agrees
        else:
            assert r.n_cells == -1
    cols = rows_to_arrays(pooled)
    assert cols["loss"].dtype == np.float64 and cols["polished"].dtype == np.bool_


def test_catalogue_row_matches_a_direct_run():
    row = stationary_catalogue(SMALL, seed=1, quick=True, executor=ThreadPoolExecutor(1))[0]
    result, polish = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=SMALL.gtol)
    assert row.loss == result.final_loss and row.nit == result.nit and row.polished == polish.accepted
    X, y = get_experiment("plateau_1d").data()
    assert row.loss == pytest.approx(loss(result.net, X, y), rel=1e-12)


def test_catalogue_settings():
    assert CATALOGUE_1D.widths == (3, 5, 10, 20) and CATALOGUE_1D.n_seeds(False) >= 10
    assert 3 <= CATALOGUE_1D.n_seeds(True) < CATALOGUE_1D.n_seeds(False) and CATALOGUE_2D.experiment == "plateau_2d"
    assert POLISH_DEMO.budget(True) == POLISH_DEMO.budget(False)
    with pytest.raises(ValueError, match="unknown experiment"):
        CatalogueSettings(experiment="nope")
    with pytest.raises(TypeError, match="widths"):
        CatalogueSettings(widths=[3, 5])
    with pytest.raises(ValueError, match="gtol"):
        CatalogueSettings(gtol=0.0)
    with pytest.raises(ValueError, match="seeds"):
        CatalogueSettings(seeds=0)
    with pytest.raises(TypeError, match="settings"):
        stationary_catalogue({"widths": (3,)})
    with pytest.raises(ValueError, match="seed"):
        stationary_catalogue(SMALL, seed=-1)


def test_run_to_stationary_point_validates():
    with pytest.raises(ValueError, match="unknown experiment"):
        run_to_stationary_point("nope", 0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="width"):
        run_to_stationary_point("plateau_1d", 0, width=0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="steps"):
        run_to_stationary_point("plateau_1d", 0, steps=0, gtol=1e-8)
    with pytest.raises(ValueError, match="stationarity_rtol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, stationarity_rtol=0.0)
    with pytest.raises(ValueError, match="rel_tol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, rel_tol=-1.0)


# --------------------------------------------------------------------------- showcase search


def test_first_polished_run_passes_over_rejected_seeds():
    # plateau_1d at width 3, 6000 steps: seed 1 is still sliding (rejected), seed 2 polishes
    search = first_polished_run("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)
    assert isinstance(search, SeedSearch) and search.found
    assert search.seed == 2 and search.tried == (1, 2) and search.value[1].accepted
    assert len(search.passed_over) == 1 and search.passed_over[0].startswith("rejected")
    direct = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)[1]
    assert not direct.accepted and direct.message == search.passed_over[0]
    lines = search.describe().splitlines()
    assert lines[0].startswith("seed 1: rejected") and lines[-1].endswith("showcased")


def test_first_polished_run_returns_the_start_seed_when_it_qualifies():
    search = first_polished_run("plateau_1d", 0, width=3, steps=6_000, gtol=1e-8)
    assert search.seed == 0 and search.tried == (0,) and search.passed_over == ()


def test_first_polished_run_fails_loudly_when_no_seed_qualifies():
    # seeds 3, 4, 5 at width 3 all end sliding within 6000 steps
    with pytest.raises(RuntimeError, match=r"no seed of 3\.\.5 .*seed 5: rejected"):
        first_polished_run("plateau_1d", 3, width=3, steps=6_000, gtol=1e-8, max_tries=3)
    with pytest.raises(ValueError, match="start_seed"):
        first_polished_run("plateau_1d", -1, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="max_tries"):
        first_polished_run("plateau_1d", 0, steps=10, gtol=1e-8, max_tries=0)


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


def _row(width: int, polished: bool, n_cells: int) -> CatalogueRow:
    nan = float("nan")
    return CatalogueRow(width=width, seed=0, nit=1, converged=polished, grad_norm=0.0, loss=1.0, lstar=1.0,
                        rel_gap=0.0, gap_bound=0.0, n_significant=1, last_change=0, late_changes=0, min_margin=1.0,
                        polished=polished, polished_loss=1.0, polished_stationarity=0.0, stationarity_cs=0.0,
                        polished_stationarity_cs=0.0, pattern_flips=0,
                        lower_bound=nan, n_cells=n_cells if polished else -1, n_determined=0, n_outside=0,
                        n_shared=0, determined_deviation=nan, undetermined_deviation=nan, rule_agrees=True)


def test_describe_widths_states_what_the_rows_show():
    rows = [_row(2, True, 4), _row(3, True, 1), _row(6, True, 1), _row(6, False, 1)]
    text = describe_widths(rows, (2, 3, 6))
    assert text.startswith("Stationary points with more than one cell were reached only at width 2;")
    assert "at width 6 every run either stops at a one-cell stationary point (1 of 2)" in text
    assert "rejected (1 of 2)" in text
    rows.append(_row(6, True, 3))  # now the largest width reaches one too: the sentence must change
    text = describe_widths(rows, (2, 3, 6))
    assert "widths 2, 6;" in text and "at width 6, 1 of 3 runs reach one with more than one cell" in text
    assert describe_widths([_row(2, False, 1)], (2,)).startswith("No run reached")
    with pytest.raises(ValueError, match="widths"):
        describe_widths(rows, ())


# --------------------------------------------------------------------------- the chapter's showcase and examples


def _example(net: ShallowReLU, X: np.ndarray, y: np.ndarray, title: str = "t") -> CellExample:
    S = [int(j) for j in np.flatnonzero(net.c != 0)]
    return CellExample(title, net, tuple(S), tuple(pattern_cells(net, X, y, S)), X, y)


def test_polish_scores(converged_run):
    X, y, result = converged_run
    polish = polish_to_stationarity(result.net, X, y)
    scores = polish_scores(result, polish, X, y)
    assert_array_equal(scores.before, stationarity_scores(result.net, X, y))
    assert_array_equal(scores.after, stationarity_scores(polish.net, X, y))
    assert_array_equal(scores.carrying_before, result.net.c != 0)
    assert_array_equal(scores.carrying, polish.net.c != 0)
    assert scores.max_before == scores.before[result.net.c != 0].max()
    assert scores.max_after <= STATIONARITY_RTOL < scores.max_before
    with pytest.raises(TypeError, match="polish"):
        polish_scores(result, None, X, y)


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
    example = _example(net, X, y)
    scores = stationarity_scores(net, X, y)[list(example.neurons)]
    assert_allclose(example.relative_moment_sums(), scores, rtol=1e-10, atol=1e-15)
    assert example.moments.shape == (len(example.cells), 3)
    with pytest.raises(ValueError, match="1-D example"):
        example.describe_1d()
    with pytest.raises(ValueError, match="1-D example"):
        example.rule_agrees()


def test_most_cells_example_reruns_the_catalogue_run():
    rows = [_row(3, True, 2), replace(_row(3, True, 4), seed=1), _row(5, True, 4), _row(5, False, 1)]
    choice = most_cells_example(rows, SMALL)  # most cells, then the smaller width: width 3, seed 1
    assert (choice.rule, choice.width, choice.seed, choice.search) == (MOST_CELLS_RULE, 3, 1, None)
    direct = run_to_stationary_point("plateau_1d", 1, width=3, steps=SMALL.steps, gtol=SMALL.gtol)[1]
    # the synthetic row claims a polish; the real run does not reach one, and the caller's check sees it
    assert not choice.polish.accepted and choice.polish.message == direct.message
    assert choice.describe() == f"example: the catalogue's run {MOST_CELLS_RULE}"
    with pytest.raises(TypeError, match="settings"):
        most_cells_example(rows, {"widths": (3,)})


def test_most_cells_example_searches_on_when_no_run_qualifies():
    choice = most_cells_example([_row(3, True, 1), _row(5, False, 1)], SMALL, seed=0)
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


# --------------------------------------------------------------------------- tables and checks


def test_catalogue_table_one_line_per_width():
    rows = [replace(_row(3, True, 2), lower_bound=0.01, polished_loss=0.2, loss=0.2),
            replace(_row(3, False, 1), lower_bound=0.01, loss=0.1),
            replace(_row(5, True, 1), lower_bound=0.0, polished_loss=0.05, loss=0.05)]
    lines = catalogue_table(rows, (3, 5)).splitlines()
    assert len(lines) == 4 and lines[1].startswith("|---|")
    assert lines[2] == "| 3 | 2 | 1 | 1 | 0.2 | 1.000e-01 | 1.00e-02 | 20 | 10 |"
    assert lines[3].startswith("| 5 | 1 | 1 | 1 | 0.05 |") and lines[3].endswith("| (bound 0) | (bound 0) |")
    with pytest.raises(ValueError, match="rows"):
        catalogue_table([], (3,))


def test_kinds_group_the_polished_runs():
    same = [replace(_row(2, True, 4), seed=s, determined_deviation=d) for s, d in ((0, 1e-14), (1, 3e-14))]
    rows = [*same, _row(3, True, 1), _row(3, False, 1)]
    kinds = stationary_kinds(rows)
    assert list(kinds.values()) == [same, [rows[2]]]
    lines = kinds_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| 2 | 0, 1 | 1.00000 | 4 |") and "| 3.0e-14 | - |" in lines[2]


def test_worst_values_over_rows_and_examples():
    rows = [replace(_row(3, True, 2), polished_stationarity_cs=1e-12, stationarity_cs=1e-8, n_determined=1,
                    determined_deviation=1e-13),
            replace(_row(3, False, 1), polished_stationarity_cs=0.5, stationarity_cs=0.5, n_determined=1,
                    determined_deviation=0.5)]
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    zero = ShallowReLU(np.zeros(2), np.ones((2, 1)), np.zeros(2))  # no neuron with c_j != 0: score 0
    assert worst_polished_stationarity(rows, SimpleNamespace(accepted=True, net=zero), X, y) == 1e-12
    moving = net_1d([-0.5, 0.3], [1, -1], [1.0, 0.5])  # far from stationary: its own score wins
    expected = max_stationarity(moving, X, y)
    assert expected > 1e-3
    got = worst_polished_stationarity(rows, SimpleNamespace(accepted=True, net=moving), X, y)
    assert got == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="showcase must be an accepted polish"):
        worst_polished_stationarity(rows, SimpleNamespace(accepted=False, net=zero, message="moved"), X, y)
    assert gd_end_stationarity(rows) == 1e-8  # the polished rows only
    full = _example(net_1d([-1.5, 0.21], [1, 1], [1.0, 1.0]), X, y)  # every cell determined, not stationary
    assert full.n_determined == len(full.cells) == 2
    assert worst_determined_deviation(rows, []) == 1e-13
    assert worst_determined_deviation(rows, [full]) == max(full.determined_deviations) > 1e-3
    facing = _example(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    assert orientation_rule_agrees(rows, [full, facing])
    assert not orientation_rule_agrees([*rows, replace(rows[0], rule_agrees=False)], [full])


# --------------------------------------------------------------------------- glued numbers


def test_showcase_values_of_a_search():
    search = first_polished_run("plateau_1d", 0, width=3, steps=6_000, gtol=1e-8)
    e = get_experiment("plateau_1d").with_changes(width=3)
    X, y = e.data()
    result, polish = search.value
    scores = polish_scores(result, polish, X, y)
    values = showcase_values(e, search, scores, quick=True, settings=SMALL)
    assert (values["show_seed"], values["show_passed"], values["n1"], values["m1"]) == (0, 0, 3, e.m)
    assert values["demo_steps"] == SMALL.budget(True) and values["gd_steps"] == result.nit
    assert values["show_S"] == len(polish.neurons) and 0 <= values["show_left"] <= values["show_S"]
    assert values["polished_max_score"] == scores.max_after <= STATIONARITY_RTOL
    assert values["lstar_show"] == polish.lstar and values["stat_tol"] == STATIONARITY_RTOL
    with pytest.raises(ValueError, match="search must have found a seed"):
        showcase_values(e, SeedSearch(None, None, (0,), ("rejected",)), scores, quick=True)


def test_catalogue_values_count_how_runs_ended():
    settings = CatalogueSettings(widths=(3, 5), seeds=2, quick_seeds=1)
    conv = replace(_row(3, True, 2), polished_loss=0.2, loss=0.2, lstar=0.2, lower_bound=0.01, gap_bound=2e-9,
                   rel_gap=-1e-8, min_margin=0.05)
    slow = replace(_row(3, True, 2), converged=False, polished_loss=0.3, loss=0.3, lower_bound=0.01,
                   rel_gap=1e-3, min_margin=0.04)
    sliding = replace(_row(3, False, 1), loss=0.15, lower_bound=0.01, late_changes=7, min_margin=1e-6,
                      pattern_flips=4, rel_gap=0.02)
    moving = replace(_row(5, False, 1), loss=0.1, lower_bound=0.0, pattern_flips=2)
    values = catalogue_values([conv, slow, sliding, moving], settings, quick=True, show_width=3)
    assert (values["n_conv"], values["n_conv_pol"], values["n_unconv_pol"], values["n_rejected"]) == (1, 1, 1, 2)
    assert (values["n_sliding"], values["n_moving"], values["median_flips"]) == (1, 1, 3)
    assert values["max_gap_conv"] == 1e-8 and values["max_bound"] == pytest.approx(1e-8)
    assert values["max_gap_unconv_pol"] == 1e-3 and values["max_gap_sliding"] == 0.02
    assert values["max_margin_sliding"] == 1e-6 and values["min_margin_polished"] == 0.04
    assert (values["pol_show_width"], values["max_width"], values["pol_max_width"]) == (2, 5, 0)
    assert (values["widths"], values["n_seeds"], values["budget"]) == ("3, 5", 1, settings.quick_steps)
    assert values["spacing"] == pytest.approx(2 / (get_experiment("plateau_1d").m - 1))
    # width 5 has no stationary point and a zero bound: the ratios are those of width 3
    assert values["ratio_width"] == 3 and values["ratio_value"] == pytest.approx(20)
    assert values["ratio_any"] == pytest.approx(15)
    with pytest.raises(ValueError, match="converged run and a polished run"):
        catalogue_values([slow, sliding], settings, quick=True, show_width=3)


def test_catalogue_2d_values():
    settings = CatalogueSettings(experiment="plateau_2d", widths=(2, 3), seeds=2, quick_seeds=1)
    rows = [_row(2, True, 4), replace(_row(2, False, 1), late_changes=3, min_margin=1e-7), _row(3, False, 1)]
    values = catalogue_2d_values(rows, settings, quick=False)
    assert values["m2"] == get_experiment("plateau_2d").m and values["widths2"] == "2, 3"
    assert (values["n_seeds2"], values["n_runs2"], values["n_pol2"], values["n_rej2"]) == (2, 3, 1, 2)
    assert values["n_sliding2"] == 1 and values["max_margin_sliding2"] == 1e-7
    assert np.isnan(catalogue_2d_values(rows[:1], settings, quick=False)["max_margin_sliding2"])
    with pytest.raises(ValueError, match="rows"):
        catalogue_2d_values([], settings, quick=False)


def test_example_values():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    outside = _example(net_1d([0.21], [1], [1.0]), X, y)  # zero left of 0.21: a cell outside the active set
    shared = _example(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    g = np.linspace(-1, 1, 9)
    X2 = np.array([(a, b) for a in g for b in g])
    y2 = np.abs(X2[:, 0]) + X2[:, 1] ** 2
    example_2d = _example(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.05, 0.05]), X2, y2)
    values = example_values(outside, shared, example_2d)
    empty = next(c for c in outside.cells if not c.active)
    assert values["dev_b"] == pytest.approx(empty.deviation / np.max(np.abs(y)))
    assert values["dev_c_min"] == min(shared.relative_deviations)
    assert values["dev_c_max"] == max(shared.relative_deviations) > values["dev_c_min"]
    assert values["cells2_n"] == 4 and values["moment_sum_max"] == max(example_2d.relative_moment_sums())
    with pytest.raises(ValueError, match="outside must have a cell outside every active set"):
        example_values(shared, shared, example_2d)
