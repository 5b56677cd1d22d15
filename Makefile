# The two commands a fresh machine needs: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := $(wildcard src tests bench examples)

.PHONY: test demo setup lint typecheck unit clean

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

unit: setup
	$(BIN)/pytest

test: lint typecheck unit

demo: setup
	$(BIN)/python -m iqwire.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
