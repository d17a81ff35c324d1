# billsync — every target creates/uses the virtual environment in .venv/ (nothing is installed globally).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: help install demo test smoke bench lint readme clean

help:            ## list the targets
	@grep -E '^[a-z]+:.*##' Makefile | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "billsync needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# PYTHONWARNINGS: setuptools warns on every editable install of a package-dir mapping (mappings/ and
	@# sample_data/ ship as sync.shipped.*) that folders named like the package may shadow it; nothing to act on.
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install billsync with its test tools

demo: $(STAMP)   ## run the whole story against the built-in emulator; files land in demo-out/
	$(BIN)/billsync demo

test: $(STAMP)   ## run the whole test suite
	@# Bytecode caching on even where the machine turns it off (PYTHONDONTWRITEBYTECODE): otherwise each
	@# worker re-rewrites every test module's asserts (~5 s) and every subprocess recompiles sync/.
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n auto --dist worksteal

readme: $(STAMP) ## regenerate the README's demo transcript from a real run
	$(BIN)/python -m tests.readme_demo

smoke: $(STAMP)  ## build the wheel, install it in a fresh venv, run it from empty directories (CI)
	$(BIN)/python tests/smoke_wheel.py

BENCH_VENV := .venv-bench

bench: $(STAMP)  ## measure speed, requests and memory; writes docs/benchmarks.md
	@# csv-diff, daff and datacompy get their own venv: datacompy caps pandas below 3.1 and pulls in
	@# pyarrow, which must not change the environment billsync runs (and is measured) in.
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	BENCH_TOOLS_PYTHON=$(BENCH_VENV)/bin/python $(BIN)/python bench/run.py

lint: $(STAMP)   ## ruff and mypy (mypy's settings: [tool.mypy] in pyproject.toml)
	$(BIN)/ruff check sync tests bench
	$(BIN)/mypy

clean:           ## remove the environment and generated files
	rm -rf $(VENV) $(BENCH_VENV) demo-out .pytest_cache bench/out
