# The README's commands. `make`: set up .venv, export, run the experiments, build docs/. `make test`.
SHELL := /bin/bash
PYTHON ?= python3
# VENV=/path/to/venv uses an existing environment (then skip `install`, which would repoint it here).
VENV ?= .venv
BIN := $(VENV)/bin
FLAGS ?=
WORKERS ?= 2
# KeOps compiles each formula with g++ on first use: keep the builds in an ignored folder here.
export KEOPS_CACHE_FOLDER := $(CURDIR)/.keops_cache
EXPERIMENTS := $(sort $(wildcard nbs/5*.ipynb))

.PHONY: all install export run docs test clean

all: install export run docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned here only (a CPU build on this disk); the package itself asks for torch>=2.1.
install: $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev,keops]"

export:
	$(BIN)/nbdev_export

# Execute the experiment notebooks and save their outputs (flagged cells keep theirs); one thread and a
# fixed hash seed, so that the saved outputs do not change from one run or machine to the next.
run:
	PYTHONHASHSEED=0 $(BIN)/python tools/run_nbs.py $(EXPERIMENTS) --flags "$(FLAGS)"
	$(BIN)/nbdev_clean

docs:
	$(BIN)/python tools/build_docs.py

# FLAGS="pykeops slow gpu" turns on the notebook cells and pytest tests flagged so.
# Two workers, one thread each (tests/conftest.py); everything that compiles KeOps formulas runs in one of them.
test:
	NBDEV_FLAGS="$(FLAGS)" $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

clean:
	rm -rf _proc .pytest_cache .hypothesis
