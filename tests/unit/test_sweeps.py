"""The sweep helper: order, executors, errors; the showcase search first_seed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from plateau_lib.sweeps import first_seed, sweep, sweep_groups


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError("three")
    return x


def test_sweep_serial_and_process_pool_agree():
    items = list(range(7))
    assert sweep(square, items, executor=1, progress=False) == [x * x for x in items]
    assert sweep(square, items, executor=2, progress=False) == [x * x for x in items]


def squares_with_group(items: list[int]) -> list[tuple[int, int]]:
    """Each item's square, with the group's first item (to see the groups)."""
    return [(x * x, items[0]) for x in items]


def drop_one(items: list[int]) -> list[int]:
    return items[1:]


@pytest.mark.parametrize(("n_items", "groups", "firsts"), [
    (10, 4, [0, 0, 2, 2, 2, 5, 5, 7, 7, 7]),  # bounds 10 * g // 4: 0, 2, 5, 7, 10
    (3, 4, [0, 1, 2]),  # at most one group per item
    (5, 1, [0] * 5),
])
def test_sweep_groups_splits_into_contiguous_groups_and_keeps_the_order(n_items, groups, firsts):
    items = list(range(n_items))
    for workers in (1, 2):
        out = sweep_groups(squares_with_group, items, groups=groups, executor=workers, progress=False)
        assert out == [(x * x, first) for x, first in zip(items, firsts, strict=True)]


def test_sweep_groups_defaults_to_two_groups_per_worker_and_checks_its_input():
    assert [g for _, g in sweep_groups(squares_with_group, range(8), executor=2, progress=False)] == [
        0, 0, 2, 2, 4, 4, 6, 6]
    assert sweep_groups(squares_with_group, [], progress=False) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="groups must be a positive integer"):
            sweep_groups(squares_with_group, range(3), groups=bad, progress=False)
    with pytest.raises(ValueError, match="one result per item: 1 for 2"):
        sweep_groups(drop_one, range(4), groups=2, executor=1, progress=False)


def test_sweep_accepts_any_executor_and_leaves_it_open():
    with ThreadPoolExecutor(3) as pool:
        assert sweep(square, [3, 1, 2], executor=pool, progress=False) == [9, 1, 4]
        assert pool.submit(square, 5).result() == 25


def test_sweep_propagates_errors():
    with pytest.raises(RuntimeError, match="three"):
        sweep(fail_on_three, range(5), executor=2, progress=False)


def test_sweep_rejects_non_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        sweep(3, [1], progress=False)


# --------------------------------------------------------------------------- first_seed


def test_first_seed_stops_at_the_first_qualifying_seed_and_keeps_the_reasons():
    calls = []

    def run(seed):
        calls.append(seed)
        return seed * seed

    search = first_seed(run, 3, 10, lambda v: None if v % 2 == 0 else f"odd square {v}")
    assert search.found and search.seed == 4 and search.value == 16
    assert search.tried == (3, 4) and calls == [3, 4]
    assert search.passed_over == ("odd square 9",)
    assert search.describe().splitlines() == ["seed 3: odd square 9", "seed 4: qualifies -> showcased"]


def test_first_seed_reports_an_exhausted_search():
    search = first_seed(lambda s: s, 0, 3, lambda v: "never")
    assert not search.found and search.seed is None and search.value is None
    assert search.tried == (0, 1, 2) and search.passed_over == ("never",) * 3


@pytest.mark.parametrize(("start", "max_tries", "match"), [(-1, 3, "start"), (1.5, 3, "start"), (True, 3, "start"),
                                                             (0, 0, "max_tries"), (0, 2.0, "max_tries")])
def test_first_seed_rejects_bad_bounds(start, max_tries, match):
    with pytest.raises(ValueError, match=match):
        first_seed(lambda s: s, start, max_tries, lambda v: None)
