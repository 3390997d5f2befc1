"""Printed lines of the chapters (plateau_lib.chapters.page): short, no reprs, no None."""

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from plateau_lib import init_network, train_gd
from plateau_lib.chapters.page import fields_line, number, rows_to_arrays, run_line


@dataclass(frozen=True)
class _Counts:
    n_runs: int
    factor: float
    first: int | None


def test_number_rounds_floats_and_never_prints_none():
    assert number(1.0717734625362931) == "1.072"
    assert number(np.int64(20)) == "20"
    assert number(None) == "never"
    assert number(True) == "yes" and number(np.float64(np.inf)) == "inf"
    assert number((9, 12, 0.5)) == "(9, 12, 0.5)"


def test_fields_line_names_fields_in_words():
    line = fields_line(_Counts(20, 1.0717734625362931, None))
    assert line == "n runs 20, factor 1.072, first never"
    assert fields_line(_Counts(1, 2.0, 3), ("factor",)) == "factor 2"
    with pytest.raises(TypeError, match="obj must be a dataclass instance"):
        fields_line({"a": 1})


def test_run_line_is_one_short_line_without_a_repr():
    X = np.linspace(-1, 1, 11)[:, None]
    y = np.sin(np.pi * X[:, 0])
    result = train_gd(init_network(3, 1, scale=1e-3, rng=np.random.default_rng(0)), X, y, lr=0.1, steps=20)
    line = run_line(result)
    assert line.startswith("gd: 20 steps, final loss ") and "TrainResult(" not in line and "\n" not in line
    assert line.endswith(f"{result.status}") and len(line) < 100
    assert run_line(result, "plateau_1d").startswith("plateau_1d: 20 steps")
    with pytest.raises(TypeError, match="result must be a TrainResult"):
        run_line(object())


def test_rows_to_arrays_of_nothing():
    assert rows_to_arrays([]) == {}


def test_rows_to_arrays_gives_one_column_per_field():
    cols = rows_to_arrays([_Counts(20, 1.5, 3), _Counts(4, 2.0, 5)])
    assert list(cols) == ["n_runs", "factor", "first"]
    assert_array_equal(cols["n_runs"], [20, 4])
    assert cols["factor"].dtype == np.float64
