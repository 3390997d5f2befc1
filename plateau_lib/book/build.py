r"""Build the staging book to HTML with Jupyter Book, strictly.

**Build (``book build``).** ``jupyter-book build _build/stage --path-output . --all -W -n
--keep-going``: a fresh Sphinx environment every time (so warnings of unchanged pages are
raised again), warnings are errors, nit-picky references, and every warning is listed
before failing. Jupyter Book does not execute anything (``execute_notebooks: "off"`` in
``_config.yml``): the book shows exactly the outputs this runner produced. The HTML lands
in ``_build/html/index.html``. MathJax ships with the book so that math renders without
network access: ``make install`` installs the npm package pinned in ``tools/mathjax``
(``npm ci``), the stage gets the parts the pages load (the ``tex-chtml.js`` component, the
TeX extensions it may autoload, the CHTML fonts) under ``_mathjax/mathjax/``, and
``_config.yml`` points ``mathjax_path`` there (Sphinx copies ``html_static_path`` folders into
``_static``). Without the package the stage gets a small loader that fetches the same
MathJax version from a CDN, and the build says so in one line on stderr. The build also
loads this module as a Sphinx extension (:func:`setup`) for one fix: Sphinx 7.4 writes twice
every inline script that an extension adds after the builder started, and sphinx-thebe's
second ``const THEBE_JS_URL`` is then a JavaScript error on every page (fixed upstream by
sphinx-doc/sphinx#13402, after the Sphinx 7 series that Jupyter Book 1.x requires).
``python -m plateau_lib book browse`` opens every built page in headless Chromium (see
:mod:`plateau_lib.browser_check`).
"""

from __future__ import annotations

import subprocess
import sys

from .paths import BookPaths
from .records import mixed_runs, stage_problems
from .stage import MATHJAX_CDN, config_overrides, mathjax_bundle, sync_stage

__all__ = ["build_html"]


def build_html(paths: BookPaths, *, strict: bool = True, allow_stale: bool = False, allow_mixed: bool = False,
               quiet: bool = False) -> int:
    """Build the staging book to ``<output_root>/_build/html`` with Jupyter Book; return the exit status.

    Runs ``jupyter-book build <stage> --path-output <output_root> --all`` (plus ``-W -n
    --keep-going`` when ``strict``) in a subprocess with this interpreter. Before that, the
    stage's non-notebook files are refreshed from the repository, and the build is refused
    (status 1, one line per chapter on stderr) if a chapter was never executed or, unless
    ``allow_stale``, is stale (see :func:`stage_problems`), or, unless ``allow_mixed``, the
    chapters ran in different modes or with different seeds (:func:`mixed_runs`).
    """
    config_overrides()  # a malformed deployment setting fails before anything is built
    missing, stale = stage_problems(paths)
    problems = missing + ([] if allow_stale else stale) + ([] if allow_mixed else mixed_runs(paths))
    for line in problems:
        print(f"book build: {line}", file=sys.stderr)
    if problems:
        return 1
    sync_stage(paths)
    if mathjax_bundle(paths.source) is None:
        print(
            f"book build: warning: MathJax is not installed, so the pages load it from {MATHJAX_CDN} "
            "and show raw TeX without network access (install it: npm ci --prefix tools/mathjax)",
            file=sys.stderr,
        )
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main(prog_name='jupyter-book')",
        "build", str(paths.stage), "--path-output", str(paths.output_root), "--all",
    ]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    if quiet:
        cmd += ["-q"]
    return subprocess.run(cmd, cwd=paths.output_root, check=False).returncode
