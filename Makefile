# edge: `make demo` runs the recorder on simulated cameras; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime
TEST_STAMP := $(VENV)/.test
PYTEST_WORKERS ?= 4
SOURCES := edge capture storage api tests bench

.PHONY: demo test test-slow lint wheel-check bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The runtime alone (what a box runs); the test tools come on top for `make test`.
$(RUNTIME_STAMP): pyproject.toml | $(VENV)/bin/python
	@bash scripts/sysdeps.sh sim
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	@bash scripts/sysdeps.sh test
	$(BIN)/pip install -q -e '.[test]'
	touch $(RUNTIME_STAMP) $@

demo: $(RUNTIME_STAMP)
	$(BIN)/edge demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The install a site does (a wheel in a fresh venv, outside the checkout), exercised end to end.
wheel-check: $(TEST_STAMP)
	PYTHON=$(PYTHON) bash scripts/wheel_check.sh

test: lint wheel-check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

# The long runs kept out of `make test` (the 50-kill crash suite, ...).
test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -m slow

bench: $(TEST_STAMP)
	@bash scripts/sysdeps.sh bench
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
