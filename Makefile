# The two commands a fresh machine needs: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := $(wildcard src tests bench examples)

.PHONY: test demo setup lint typecheck imports unit clean bench chaos fuzz
SEED ?= 1

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

typecheck: setup
	$(BIN)/mypy --strict src

# The layer contracts of pyproject.toml's [tool.importlinter] (docs/architecture.md).
imports: setup
	$(BIN)/lint-imports --no-cache

unit: setup
	$(BIN)/pytest

# The benchmarks' smoke run keeps their scripts from rotting; it asserts no goal.
test: lint typecheck imports unit
	$(BIN)/python bench/run.py --quick

bench: setup
	$(BIN)/python bench/run.py

chaos: setup
	$(BIN)/python tests/reliability/run_chaos.py options --calls 1000 --disconnects 200 --seed $(SEED)
	$(BIN)/python tests/reliability/run_chaos.py margin --calls 500 --disconnects 100 --seed $(SEED)

fuzz: setup
	$(BIN)/python tests/reliability/run_fuzz.py --frames 1000000 --seed $(SEED)

demo: setup
	$(BIN)/iqwire demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
