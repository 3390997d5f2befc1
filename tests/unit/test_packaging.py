"""The library installs alone: its wheel requires only the science's packages, it installs into a
fresh virtual environment without extras and runs there, and the science runs with the book's
packages made unimportable."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What ``pip install .`` may pull in (everything else is an extra).
SCIENCE_REQUIREMENTS = {"numpy", "scipy", "matplotlib", "tqdm"}
#: Packages of the book's tooling and of Jupyter that the science must not need.
BOOK_PACKAGES = ("papermill", "ipywidgets", "myst_nb", "jupyter_book", "yaml", "IPython", "nbformat", "ipykernel")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built offline from a copy of the sources (the tree stays clean)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "plateau_lib", src / "plateau_lib", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True, text=True)
    (path,) = out.glob("plateau_lib-*.whl")
    return path


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def test_the_wheel_requires_only_the_science(wheel):
    requires = _metadata(wheel).get_all("Requires-Dist") or []
    core = {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
            for r in requires if "extra ==" not in r}
    assert core == SCIENCE_REQUIREMENTS
    extras = set(_metadata(wheel).get_all("Provides-Extra") or [])
    assert {"book", "lab", "dask"} <= extras


def test_the_wheel_installs_the_plateau_command_and_every_module(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "plateau = plateau_lib.book.cli:run" in entry
    shipped = {n for n in names if n.endswith(".py")}
    here = {p.relative_to(ROOT).as_posix() for p in (ROOT / "plateau_lib").rglob("*.py")}
    assert here <= shipped


#: A small training and theory call, run where the library is installed.
SMALL_RUN = """
import numpy as np
import plateau_lib as pl
rng = np.random.default_rng(0)
X = np.linspace(-1, 1, 21)[:, None]
y = np.sin(3 * X[:, 0])  # not a width-4 network: no exact fit
net = pl.init_network(4, 1, scale=1.0, rng=rng)
gd = pl.train(net, X, y, "gd", budget=200, lr=0.05)
anls = pl.train(net, X, y, "anls", budget=5)
level = pl.lstar_of_network(anls.net, X, y)
assert gd.final_loss < gd.loss[0] and anls.final_loss <= anls.loss[0] and level <= anls.final_loss * (1 + 1e-9)
"""


def test_the_wheel_installs_alone_into_a_fresh_environment_and_runs(wheel, tmp_path):
    """``pip install .`` without extras, made offline: uv installs the wheel and its dependencies at the
    locked versions from its cache, which ``make install`` filled (no download at test time)."""
    uv = Path(sys.executable).parent / "uv"
    assert uv.exists(), "uv (pinned in requirements-dev.txt) is installed by make install"
    venv = tmp_path / "venv"
    subprocess.run([str(uv), "venv", "--quiet", "--offline", "--no-python-downloads", "--python", sys.executable,
                    str(venv)], check=True, capture_output=True, text=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(uv), "pip", "install", "--quiet", "--offline", "--python", str(python),
                              "-c", str(ROOT / "constraints.txt"), str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, f"offline install from uv's cache failed: {install.stderr}"
    listing = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                              "print(*sorted(d.metadata['Name'].lower() for d in m.distributions()))"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert SCIENCE_REQUIREMENTS | {"plateau-lib"} <= set(listing)
    assert not {"jupyter-book", "papermill", "ipywidgets", "pyyaml", "ipykernel", "myst-nb"} & set(listing), listing
    run = subprocess.run([str(python), "-c", SMALL_RUN + "print(pl.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).is_relative_to(venv), "the installed library ran, not the sources"


def test_the_science_runs_without_the_book_packages():
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BOOK_PACKAGES!r}:
            raise ImportError(f"blocked: {{name}}")
sys.meta_path.insert(0, Block())
{SMALL_RUN}
print("ok", sorted(m for m in sys.modules if m.split(".")[0] in {BOOK_PACKAGES!r}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ok", "[]"]


# --------------------------------------------------------------------------- licence and citation


def test_licence_file_matches_the_metadata():
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_citation_file_has_what_cff_1_2_requires():
    """The keys and types that CFF 1.2.0's schema requires (cffconvert is not among our dependencies)."""
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title"):
        assert isinstance(cff[key], str) and cff[key].strip()
    assert cff["type"] in ("software", "dataset")
    assert cff["authors"] and all(("name" in a) or ("family-names" in a) for a in cff["authors"])
    assert cff["license"] == "MIT"
    import tomllib

    assert str(cff["version"]) == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    (paper,) = cff["references"]
    assert paper["type"] == "article" and "arXiv:2007.07213" in {i["value"] for i in paper["identifiers"]}
    assert {a["family-names"] for a in paper["authors"]} == {"Ainsworth", "Shin"}
