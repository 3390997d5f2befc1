# Two commands on a fresh machine: `make book` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip installs uv (pinned in constraints.txt), and uv installs the locked set into the venv: the
# same pins, in a quarter of pip's time (about 25 s against 2 minutes for the whole set).
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python
# MathJax for the book's pages (math without network access), from the npm registry.
MATHJAX := tools/mathjax/node_modules/.package-lock.json
# Headless Chromium for the browser check of the built pages (tests/book/test_browser_check.py).
CHROMIUM := /usr/bin/chromium

.PHONY: install book pdf tex test test-deep test-seeds test-matrix mutation lint clean browser lab lock

install: $(STAMP) $(MATHJAX)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt uv
	$(UV_INSTALL) -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(UV_INSTALL) --no-deps -e .
	touch $(STAMP)

# npm ci installs exactly tools/mathjax/package-lock.json (and writes $(MATHJAX)). Without npm
# the book still builds, loading MathJax from a CDN, and the browser check is skipped.
$(MATHJAX): tools/mathjax/package.json tools/mathjax/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "npm ci --prefix tools/mathjax"; \
	  npm ci --prefix tools/mathjax --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "******************************************************************"; \
	  echo "WARNING: npm not found, so MathJax is NOT bundled with the book:"; \
	  echo "its pages load MathJax from a CDN and show raw TeX offline, and"; \
	  echo "the browser check of make test is skipped. Install Node.js/npm."; \
	  echo "******************************************************************"; \
	fi

# Debian's chromium, installed when missing if apt-get can run (as root, or with sudo that
# needs no password). Otherwise a warning, and the browser check is skipped (loudly).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=no; fi; \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$sudo" != no ]; then \
	    echo "installing chromium (Debian) for the browser check"; \
	    $$sudo apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
	      >/dev/null || true; \
	  fi; \
	fi; \
	if [ ! -x $(CHROMIUM) ]; then \
	  echo "******************************************************************"; \
	  echo "WARNING: Chromium could not be installed ($(CHROMIUM) is missing:"; \
	  echo "installing it needs apt-get and root or passwordless sudo)."; \
	  echo "The browser check of the built pages will be SKIPPED."; \
	  echo "Install it yourself: apt-get install chromium"; \
	  echo "******************************************************************"; \
	fi

# JupyterLab (requirements-lab.txt): to work in the chapters, and for the live explorer test.
LAB_STAMP := $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP) requirements-lab.txt constraints.txt
	$(UV_INSTALL) -r requirements-lab.txt -c constraints.txt
	touch $(LAB_STAMP)

lab: install $(LAB_STAMP)
	$(BIN)/jupyter lab book/

book: install
	$(BIN)/python -m plateau_lib book run --workers 4
	$(BIN)/python -m plateau_lib book build

# The whole book as one PDF (_build/pdf/plateau-companion.pdf), from the executed chapters of
# `make book` (run it first): Jupyter Book's LaTeX builder, XeLaTeX and latexmk
# (plateau_lib/book/pdf.py). TeX comes from Debian's packages (`make tex`); neither `make book`
# nor `make test` needs it (the PDF tests are skipped without it).
pdf: install tex
	$(BIN)/python -m plateau_lib book pdf

# Debian's TeX for the PDF (about 500 MB installed, no texlive-full): XeLaTeX, the LaTeX packages
# Sphinx's LaTeX writer loads, their fonts, latexmk; FreeSerif/FreeSans/FreeMono, the fonts Sphinx
# sets for XeLaTeX (fonts-freefont-otf: no TeX package depends on it); poppler-utils reads the
# PDF back in the tests. needspace.sty (texlive-latex-extra, loaded by the PDF's preamble) stands
# for the LaTeX packages: a TeX with xelatex and latexmk but without them is completed. apt-get
# waits up to 5 minutes for another apt-get (make test's Chromium) to finish.
TEX_PACKAGES := texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
  fonts-freefont-otf latexmk poppler-utils
tex:
	@if ! command -v xelatex >/dev/null 2>&1 || ! command -v latexmk >/dev/null 2>&1 \
	    || ! kpsewhich needspace.sty >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=no; fi; \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$sudo" != no ]; then \
	    echo "installing TeX (Debian: $(TEX_PACKAGES))"; \
	    $$sudo apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      -o DPkg::Lock::Timeout=300 $(TEX_PACKAGES) \
	      >/dev/null; \
	  fi; \
	fi; \
	if ! command -v xelatex >/dev/null 2>&1 || ! command -v latexmk >/dev/null 2>&1; then \
	  echo "make pdf needs TeX: apt-get install $(TEX_PACKAGES) (needs root or passwordless sudo)"; \
	  exit 2; \
	fi

# JupyterLab and the browser serve the browser checks (the built pages; the explorers live).
# --durations: the 25 slowest tests, printed for the 10-minute budget.
test: install browser $(LAB_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=25 tests

# The unit tests with Hypothesis drawing new random examples on every run (make test draws a
# fixed set: the "ci" profile of tests/conftest.py).
test-deep: install
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -n 2 tests/unit

# Mutation testing of the science's core modules ([tool.mutmut] in pyproject.toml): planted
# operator bugs must fail the fast unit tests. Works on a copy in mutants/; prints the score.
mutation: install
	cd $(CURDIR) && $(BIN)/mutmut run --max-children 2 >/dev/null || true
	$(BIN)/python tools/mutation_score.py

# Every chapter over seeds 0-9, full mode then quick mode, each seed in _build/seeds/; prints a
# chapter x seed table and writes it to book/seed-table-*.txt, which book/reproducibility.md shows.
SEEDS ?= 0-9
test-seeds: install
	$(BIN)/python -m plateau_lib book seeds --seeds $(SEEDS) --workers 2 --table book/seed-table-full.txt
	$(BIN)/python -m plateau_lib book seeds --seeds $(SEEDS) --workers 2 --quick --table book/seed-table-quick.txt

# The unit tests and a quick run of every chapter on the oldest dependency versions pyproject.toml
# allows (Python 3.11) and on the newest the package index has (Python 3.13), each in its own
# environment under _build/matrix/; prints the versions and the results (tools/dependency_matrix.py).
test-matrix: install
	$(BIN)/python tools/dependency_matrix.py

# The one lock: every package the requirements files need, resolved by uv from the package index
# for the Python versions pyproject.toml allows (>= 3.11). Run after editing a requirements file.
# environment.yml (Binder, conda) is then written from the run-time part of that set.
lock: install
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-annotate \
	  --custom-compile-command "make lock" \
	  requirements.txt requirements-dev.txt requirements-lab.txt -o constraints.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 --no-annotate --no-header \
	  requirements.txt requirements-lab.txt -c constraints.txt -o _build/runtime-pins.txt
	$(BIN)/python tools/write_environment.py _build/runtime-pins.txt

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf _build $(VENV) tools/mathjax/node_modules
