"""The command line: help works, mistakes are one line on stderr with exit status 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plateau_lib.book import cli

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "plateau_lib", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def copy_book(dest: Path) -> Path:
    """A copy of the book's sources (not of the library) to run the command line in (Chapter 4
    reads the committed benchmark tables through the library, from the repository)."""
    shutil.copytree(ROOT / "book", dest / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    return dest


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["book", "--help"],
        ["book", "run", "--help"],
        ["book", "build", "--help"],
        ["book", "check", "--help"],
        ["book", "refresh-references", "--help"],
    ],
)
def test_help(args):
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m plateau_lib")
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "required"),
        (["bogus"], "invalid choice"),
        (["book"], "required"),
        (["book", "run", "--bogus"], "unrecognized arguments"),
        (["book", "run", "--seed", "x"], "--seed"),
        (["book", "run", "--seed", "-1"], "--seed"),
        (["book", "seeds", "--seeds", "3-1"], "--seeds"),
        (["book", "seeds", "--workers", "0"], "--workers"),
        (["book", "run", "--workers", "0"], "--workers"),
        (["book", "seeds", "nochapter"], "unknown chapter"),
        (["book", "run", "no-such-chapter"], "unknown chapter 'no-such-chapter'"),
        (["book", "check", "no-such-chapter"], "unknown chapter"),
        (["book", "refresh-references", "no-such-chapter"], "unknown chapter"),
        (["book", "check", "--rtol", "abc"], "--rtol"),
        (["book", "check", "--rtol", "-1"], "--rtol"),
        (["book", "check", "--atol", "nan"], "--atol"),
        (["book", "build", "extra"], "unrecognized arguments"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(args, needle, tmp_path):
    book = copy_book(tmp_path)
    proc = run_cli(*args, cwd=book)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("python -m plateau_lib") and "error:" in lines[0]
    assert needle in lines[0]
    assert proc.stdout == ""
    assert not (book / "_build").exists(), "a command-line mistake must stop before any work"


def test_registered_commands_are_reachable(monkeypatch):
    monkeypatch.setattr(cli, "_COMMANDS", dict(cli._COMMANDS))
    seen = {}

    def handler(args: argparse.Namespace) -> int:
        seen["word"] = args.word
        return 0

    @cli.register_command("echo", help="test command")
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("word")
        parser.set_defaults(handler=handler)

    assert cli.main(["echo", "hello"]) == 0
    assert seen == {"word": "hello"}
    with pytest.raises(ValueError, match="already registered"):
        cli.register_command("echo", help="again")(lambda parser: None)


def test_handler_usage_error_and_interrupt(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_COMMANDS", dict(cli._COMMANDS))

    def fail(args):
        raise cli.UsageError("bad\nthing")

    def interrupt(args):
        raise KeyboardInterrupt

    cli.register_command("fail", help="x")(lambda p: p.set_defaults(handler=fail))
    cli.register_command("interrupt", help="x")(lambda p: p.set_defaults(handler=interrupt))
    assert cli.main(["fail"]) == 2
    assert capsys.readouterr().err == "python -m plateau_lib: error: bad thing\n"
    assert cli.main(["interrupt"]) == 130
    assert capsys.readouterr().err == "python -m plateau_lib: interrupted\n"


@pytest.mark.slow
def test_failing_chapter_exits_1_with_one_line(tmp_path):
    book = copy_book(tmp_path)
    chapter = "anls"
    path = book / "book" / f"{chapter}.ipynb"
    nb = json.loads(path.read_text())
    # the broken cell goes right after the parameters cell, so the chapter fails at once
    at = 1 + next(k for k, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", []))
    nb["cells"].insert(
        at, {"cell_type": "code", "execution_count": None, "id": "boom", "metadata": {}, "outputs": [],
             "source": ["raise RuntimeError('broken on purpose')"]}
    )
    path.write_text(json.dumps(nb))
    proc = run_cli("book", "run", "--quick", "--no-progress", chapter, cwd=book)
    assert proc.returncode == 1, proc.stderr
    reports = [line for line in proc.stderr.splitlines() if line.startswith(f"chapter {chapter!r} failed")]
    assert len(reports) == 1, proc.stderr
    assert f"in cell {at} (0-based)" in reports[0]  # of the committed notebook
    assert "RuntimeError: broken on purpose" in reports[0]


def test_malformed_deployment_setting_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("PLATEAU_REPOSITORY_URL", "not a url")
    assert cli.main(["book", "build"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PLATEAU_REPOSITORY_URL must be an http(s) URL" in err[0]


def _processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, command line), read from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # not a zombie
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found[int(stat.parent.name)] = (int(fields[1]), cmd)
    return found


def _descendants(pid: int) -> dict[int, str]:
    """The live descendants of ``pid`` (the kernel runs in a session of its own, so not by session)."""
    table, out, todo = _processes(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmd) in table.items():
            if ppid == parent and child not in out:
                out[child] = cmd
                todo.append(child)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("chapters", [("quantification",), ("quantification", "stationary")])
def test_sigterm_shuts_the_kernel_down_and_leaves_no_process(tmp_path, chapters):
    """One chapter (the kernel is interrupted in this thread), and two at once (``--workers 2``: each
    kernel is interrupted from the main thread)."""
    book = copy_book(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "plateau_lib", "book", "run", "--quick", "--no-progress",
                             "--workers", str(len(chapters)), *chapters], cwd=book, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while sum("ipykernel" in c for c in _descendants(proc.pid).values()) < len(chapters):
            assert proc.poll() is None and time.monotonic() < deadline, "the kernels never started"
            time.sleep(0.5)
        time.sleep(3.0)  # the chapter is executing
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "interrupted" in err, err
        deadline = time.monotonic() + 20
        while set(children) & set(_processes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        survivors = {pid: cmd for pid, cmd in children.items() if pid in _processes()}
        assert not survivors, f"processes survived the SIGTERM: {survivors}"
        assert not list((book / "_build" / "running").glob("*.ipynb")), "a temporary notebook was left"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
