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

# Until the terminal UI lands, the main job is a live node: the feed, then the node on the
# mesh in the foreground (Ctrl-C stops it). Post from another terminal with .venv/bin/stig post.
run: $(STAMP_RUN)
	$(BIN)/stig init --quiet
	$(BIN)/stig feed
	@echo "starting the node (Ctrl-C stops it); in another terminal: .venv/bin/stig post \"...\""
	$(BIN)/stig node

test: $(STAMP_TEST) lint types unit

lint: $(STAMP_TEST)
	$(BIN)/ruff check stig tests benchmarks
	$(BIN)/ruff format --check stig tests benchmarks

types: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/pytest -q

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/ingest.py --n 20000
	$(BIN)/python benchmarks/feed.py --n 1000000
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/propagation.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
