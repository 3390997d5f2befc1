"""Where the bench commands run their tasks (plateau_lib.parallel): the same rows on
every executor -- in this process, on local processes, on a two-worker Dask LocalCluster, on an
existing Dask scheduler -- and executor mistakes are one line on stderr with exit status 2,
before any work and without a results file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from plateau_lib.book import bench_cli, cli
from plateau_lib.chapters.anls_benchmark import BenchProblem, Budgets, Suite, compute_best_known, run_benchmark
from plateau_lib.parallel import (
    DASK_INSTALL_HINT,
    KINDS,
    SerialExecutor,
    open_executor,
    worker_count,
)

ROOT = Path(__file__).resolve().parents[2]

# The tests that share the Dask cluster run on one xdist worker, so it starts once.
pytestmark = pytest.mark.xdist_group("bench_executors")

TINY = BenchProblem(name="tiny_bump", target="bump", m=21, d=1, width=4)
TINY_2D = BenchProblem(name="tiny_pyramid", target="pyramid_2d", m=16, d=2, width=3)
BUDGETS = Budgets(gd_steps=200, adam_steps=200, lbfgs_steps=30, lm_steps=15, anls_sweeps=3,
                  first_order_record_every=10)
SUITE = Suite("executors", (TINY, TINY_2D), (0, 1), BUDGETS, methods=("gd", "lbfgs", "lm", "anls", "gd+anls"))


def timeless(rows: list[dict]) -> list[dict]:
    """The rows without what depends on the clock (wall times, times to the levels, the time axis)."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k != "wall_time" and not k.startswith("time_to_")}
        row["curve"] = {k: v for k, v in row["curve"].items() if k != "time"}
        out.append(row)
    return out


@pytest.fixture(scope="module")
def serial():
    """The best-known search and the tiny suite, run in this process one task after the other."""
    best = compute_best_known(SUITE.problems, restarts=2, executor=SerialExecutor(), progress=False)
    return best, run_benchmark(SUITE, best["problems"], executor=1, progress=False)


@pytest.fixture(scope="module")
def dask_executor():
    """An executor on a Dask LocalCluster of two single-threaded worker processes."""
    pytest.importorskip("distributed", reason=f"Dask distributed is not installed ({DASK_INSTALL_HINT})")
    with open_executor("dask", workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def scheduler_address(dask_executor):
    import distributed

    return distributed.default_client().scheduler.address


def test_a_two_worker_local_cluster_gives_the_serial_results(serial, dask_executor):
    best, doc = serial
    assert worker_count(dask_executor) == 2
    best_dask = compute_best_known(SUITE.problems, restarts=2, executor=dask_executor, progress=False)
    assert best_dask["problems"] == best["problems"]  # every restart's loss, bit for bit
    doc_dask = run_benchmark(SUITE, best["problems"], executor=dask_executor, progress=False)
    assert [(r["problem"], r["seed"], r["method"]) for r in doc_dask["rows"]] == \
        [(r["problem"], r["seed"], r["method"]) for r in doc["rows"]]  # in the tasks' order
    assert [r["final_loss"] for r in doc_dask["rows"]] == [r["final_loss"] for r in doc["rows"]]
    assert timeless(doc_dask["rows"]) == timeless(doc["rows"])
    assert len(doc["rows"]) == len(SUITE.problems) * len(SUITE.seeds) * len(SUITE.methods)


def test_local_processes_give_the_serial_results(serial):
    best, doc = serial
    with open_executor("processes", workers=2) as executor:
        assert worker_count(executor) == 2
        doc_pool = run_benchmark(SUITE, best["problems"], executor=executor, progress=False)
    assert timeless(doc_pool["rows"]) == timeless(doc["rows"])


def test_bench_anls_on_an_existing_scheduler(scheduler_address, tmp_path, capsys):
    common = ["bench", "anls", "--quick", "bump_1d", "--seeds", "2", "--no-progress"]
    assert cli.main([*common, "--scheduler", scheduler_address, "--output", str(tmp_path / "dask")]) == 0
    out = capsys.readouterr().out
    assert f"on 2 worker(s) of the Dask cluster at {scheduler_address}" in out
    assert cli.main([*common, "--workers", "1", "--output", str(tmp_path / "serial")]) == 0
    capsys.readouterr()
    on_dask, serial = (json.loads((tmp_path / d / "bench_anls.json").read_text()) for d in ("dask", "serial"))
    assert on_dask["workers"] == 2 and serial["workers"] == 1
    assert timeless(on_dask["rows"]) == timeless(serial["rows"])


def test_the_client_is_closed_on_ctrl_c(scheduler_address):
    with pytest.raises(KeyboardInterrupt), open_executor("dask", workers=1, scheduler=scheduler_address) as executor:
        client = executor._client
        raise KeyboardInterrupt
    assert client.status == "closed"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", ["anls", "best-known"])
def test_an_unreachable_scheduler_is_one_line_exit_2_and_writes_nothing(command, tmp_path):
    pytest.importorskip("distributed", reason=f"Dask distributed is not installed ({DASK_INSTALL_HINT})")
    out = tmp_path / "out"
    out.mkdir()
    target = out if command == "anls" else out / "best_known.json"
    address = f"tcp://127.0.0.1:{_unused_port()}"
    proc = subprocess.run([sys.executable, "-m", "plateau_lib", "bench", command, "bump_1d", "--no-progress",
                           "--scheduler", address, "--connect-timeout", "0.5", "--output", str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("python -m plateau_lib: error: cannot reach the Dask scheduler at " + address)
    assert "(waited 0.5 s)" in lines[0]
    assert proc.stdout == ""
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench", "anls", "--workers", "0"], "--workers: expected a positive integer, got '0'"),
        (["bench", "best-known", "--workers", "-2"], "--workers"),
        (["bench", "anls", "--executor", "dask", "--workers", "0"], "--workers"),
        (["bench", "anls", "--executor", "threads"], "invalid choice: 'threads' (choose from "),
        (["bench", "best-known", "--executor", "processes", "--scheduler", "tcp://127.0.0.1:1"],
         "--scheduler runs on Dask"),
        (["bench", "race", "--workers", "0"], "--workers"),
        (["bench", "anls", "--connect-timeout", "0"], "--connect-timeout: expected a number > 0, got '0'"),
        (["bench", "best-known", "--connect-timeout", "nan"], "--connect-timeout: expected a finite number >= 0"),
        (["bench", "race", "--seeds", "0"], "--seeds: expected a positive integer, got '0'"),
        (["bench", "race", "--budget-scale", "0"], "--budget-scale must be a positive finite number, got 0.0"),
        (["bench", "race", "--budget-scale", "inf"], "--budget-scale must be a positive finite number, got inf"),
        (["bench", "race", "no_such_problem"], "unknown problem(s) 'no_such_problem'; known: plateau_1d, "),
    ],
)
def test_executor_mistakes_are_one_line_exit_2_before_any_work(args, needle, tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(bench_cli, "run_benchmark", no_work)
    monkeypatch.setattr(bench_cli, "compute_best_known", no_work)
    monkeypatch.setattr(bench_cli.anls_race, "run_race", no_work)
    output = tmp_path / {"anls": "out", "best-known": "best_known.json", "race": "race.json"}[args[1]]
    try:
        status = cli.main([*args, "--output", str(output)])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    assert status == 2
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("python -m plateau_lib") and needle in err
    if "choose from" in needle:  # the choices are named (quoted or not, by Python version)
        assert "processes" in err and "dask" in err
    assert not output.exists()


def test_open_executor_refuses_what_it_cannot_open():
    with pytest.raises(ValueError, match="unknown executor 'threads'; choose from serial, processes, dask"):
        open_executor("threads", workers=2).__enter__()
    for workers in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            open_executor("processes", workers=workers).__enter__()
    with pytest.raises(ValueError, match="needs the 'dask' executor"):
        open_executor("processes", workers=2, scheduler="tcp://127.0.0.1:1").__enter__()
    assert KINDS == ("serial", "processes", "dask")
    with open_executor("processes", workers=1) as executor:  # one worker: in this process
        assert isinstance(executor, SerialExecutor) and worker_count(executor) == 1
        assert executor.submit(sum, [1, 2]).result() == 3
        assert isinstance(executor.submit(int, "x").exception(), ValueError)
    with pytest.raises(ValueError, match="executor must be a positive number of processes, got 0"):
        compute_best_known([TINY], restarts=1, executor=0, progress=False)


def test_without_dask_the_dask_executor_names_the_extra(tmp_path):
    """Everything imports without Dask; asking for it says how to install it (one line, exit 2)."""
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Block())
from plateau_lib.book import cli
from plateau_lib.parallel import ExecutorUnavailable, open_executor
try:
    open_executor("dask", workers=2).__enter__()
except ExecutorUnavailable as err:
    print(err)
sys.exit(cli.main(["bench", "anls", "--quick", "bump_1d", "--executor", "dask", "--no-progress",
                   "--output", {str(tmp_path / "out")!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert DASK_INSTALL_HINT in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and DASK_INSTALL_HINT in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
