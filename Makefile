# billsync — every target creates/uses the virtual environment in .venv/ (nothing is installed globally).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: help install demo test bench lint clean

help:            ## list the targets
	@grep -E '^[a-z]+:.*##' Makefile | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "billsync needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install billsync with its test tools

demo: $(STAMP)   ## run the whole story against the built-in emulator; files land in demo-out/
	$(BIN)/billsync demo

test: $(STAMP)   ## run the whole test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## measure speed, requests and memory; writes docs/benchmarks.md
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py

lint: $(STAMP)   ## ruff
	$(BIN)/ruff check sync tests bench

clean:           ## remove the environment and generated files
	rm -rf $(VENV) demo-out .pytest_cache bench/out
