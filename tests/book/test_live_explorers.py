"""The explorers live: JupyterLab in headless Chromium, a control moved, the picture redrawn.

``test_explorers.py`` drives the explorers through their widget objects in Python. This test
checks the other half, what a reader gets in a live session: JupyterLab (pinned in
requirements-lab.txt, installed by ``make test``) serves a scratch notebook that displays both
explorers; Chromium runs its cell, and the test waits for the rendered widgets (a widget
view, not the static fallback), moves one drop-down of each explorer and waits until the
kernel has sent a new picture. Every request to a network host is blocked, and the console
must stay free of errors. Skipped, loudly, without Chromium or JupyterLab.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from plateau_lib.book import browse as browser_check

NOTEBOOK = {
    "cells": [{
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "source": [
            "from IPython.display import display\n",
            "from plateau_lib.chapters.explorers import anls_explorer, gd_explorer\n",
            "display(gd_explorer(steps=2000), anls_explorer(steps=2000, sweeps=10))",
        ],
    }],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


#: JavaScript: at least ``n`` widget pictures have loaded.
LOADED_PICTURES = (
    "n => [...document.querySelectorAll('.jupyter-widgets img')].filter(i => i.naturalWidth > 0).length >= n"
)


def _require_browser_and_lab() -> None:
    reason = browser_check.browser_unavailable_reason()
    if reason is None:
        try:
            import jupyterlab  # noqa: F401
        except ImportError:
            reason = "JupyterLab is not installed (requirements-lab.txt; make test installs it)"
    if reason is not None:
        pytest.skip(f"LIVE EXPLORER CHECK SKIPPED: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _jupyterlab(root: Path) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1 without authentication, serving ``root``; yields its URL."""
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / ".runtime"), JUPYTER_CONFIG_DIR=str(root / ".config"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
           f"--LabApp.workspaces_dir={root / '.workspaces'}", "--LabApp.news_url=None",
           "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (root / "jupyterlab.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = (root / "jupyterlab.log").read_text()[-2000:]
                    raise RuntimeError(f"JupyterLab did not start: {tail}") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _move_and_wait(page, explorer, label: str, value: str) -> None:
    """Select ``value`` in the drop-down labelled ``label`` and wait for a new picture."""
    image = explorer.locator("img").first
    before = image.get_attribute("src")
    explorer.locator(".widget-dropdown", has_text=label).locator("select").select_option(value)
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old", arg=[image.element_handle(), before],
                           timeout=60_000)


def test_explorers_respond_in_jupyterlab(tmp_path):
    _require_browser_and_lab()
    from playwright.sync_api import sync_playwright

    (tmp_path / "explorers.ipynb").write_text(json.dumps(NOTEBOOK))
    with _jupyterlab(tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_check.find_chromium(),
                                    args=list(browser_check.CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            errors, blocked = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith(url):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(f"{url}/lab/tree/explorers.ipynb")
            page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=90_000)
            page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=90_000)  # kernel ready
            page.click(".jp-Cell .jp-InputArea-editor")
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(LOADED_PICTURES, arg=2, timeout=120_000)
            explorers = page.locator(".jp-OutputArea-output .widget-vbox").filter(has=page.locator("img"))
            assert explorers.count() == 2
            assert page.locator(".plateau-explorer-static").count() == 0  # live widgets, not the fallback
            _move_and_wait(page, explorers.nth(0), "target", "abs")
            _move_and_wait(page, explorers.nth(1), "ANLS variant", "joint")
            # The kernel sends "computing…", the new picture, then the status line with the
            # drawing time (only a redraw has one): wait for that line rather than read it at once.
            explorers.nth(1).locator(".widget-html-content", has_text="drawn in").wait_for(timeout=30_000)
            page.screenshot(path=str(tmp_path / "live.png"))
        finally:
            browser.close()
    assert not errors, f"console errors in JupyterLab: {errors[:5]}"
    assert not blocked, f"requests to network hosts: {blocked[:5]}"
