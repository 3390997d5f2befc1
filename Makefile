# Two commands on a fresh machine: `make book` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install book test lint clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: install
	$(BIN)/python -m plateau_lib book run
	$(BIN)/python -m plateau_lib book build

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 tests

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf _build $(VENV)
