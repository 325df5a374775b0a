# One command to run the main job, one to pass the tests (see README.md).
# Everything installs into .venv from pyproject.toml, pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data

.PHONY: setup run test test-slow lint bench fuzz clean replay-env

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Exit 2 means "the job ran and found broken links": a result, not a failure of make.
run: setup
	$(BIN)/rotwatch --data-dir $(DATA) run seeds/ || [ $$? -eq 2 ]

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# pywb, for the replay tests: its own virtualenv (see tests/replay_env.py for why).
replay-env: .venv-replay/.installed

.venv-replay/.installed: requirements-replay.txt
	$(PYTHON) -m venv .venv-replay
	.venv-replay/bin/python -m pip install --quiet -r requirements-replay.txt
	touch $@

test: lint replay-env
	$(BIN)/pytest -q

# Long hostile-input and kill-anywhere runs (not in CI's time budget).
test-slow: setup
	$(BIN)/pytest -q -m slow

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .venv-replay $(DATA) .pytest_cache .mypy_cache .ruff_cache
