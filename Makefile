# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   — create .venv, install stig, start the main job
#   make test  — create .venv with test extras, run lint, types and the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint types unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

# The main job: the terminal UI with the node in-process, on the mesh per config.toml
# (ARGS=--offline stays off it). The first run creates a home and a persona.
run: $(STAMP_RUN)
	$(BIN)/stig tui $(ARGS)

test: $(STAMP_TEST) lint types unit

lint: $(STAMP_TEST)
	$(BIN)/ruff check stig tests benchmarks
	$(BIN)/ruff format --check stig tests benchmarks

types: $(STAMP_TEST)
	$(BIN)/mypy

# Two workers (pytest-xdist): the suite waits on real processes, networks and tor more than it
# computes, so the second worker fills the first one's waits. Every test of tests/tor runs on one
# worker (tests/conftest.py), which starts the private Tor network once. One worker: make unit N=0.
N ?= 2
unit: $(STAMP_TEST)
	$(BIN)/pytest -q -n $(N) --dist loadgroup

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/ingest.py --n 20000
	$(BIN)/python benchmarks/feed.py --n 1000000
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/propagation.py
	$(BIN)/python benchmarks/tui.py --n 100000

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
