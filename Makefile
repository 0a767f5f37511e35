# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONF ?= conf/demo.yml

.PHONY: install demo test test-fast lint typecheck clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Generate the demo data and run the whole pipeline on the embedded default.
demo: $(STAMP)
	$(BIN)/unify demo --conf $(CONF)

## The whole test suite (what CI runs).
test: $(STAMP)
	$(BIN)/python -c "import unification, unification.cli"  # importing starts no Spark session
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check unification jobs tests
	$(BIN)/ruff format --check unification jobs tests

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf lakehouse data reports exports spark-warehouse metastore_db derby.log
