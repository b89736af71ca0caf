# edge: `make demo` runs the recorder on simulated cameras; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 4

.PHONY: demo test lint bench sysdeps clean

sysdeps:
	@bash scripts/sysdeps.sh

$(STAMP): pyproject.toml | sysdeps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edge demo

test: $(STAMP)
	$(BIN)/ruff check edge capture storage api tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

lint: $(STAMP)
	$(BIN)/ruff check edge capture storage api tests bench
	$(BIN)/mypy

bench: $(STAMP)
	@bash scripts/sysdeps.sh --ffmpeg
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
