# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint types pytest bench report clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/paratime demo

test: lint types pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks/bench benchmarks/elm benchmarks/decomp benchmarks/pararealnet

types: $(BIN)/.installed
	$(BIN)/pyright

# One process per test file, as many at a time as there are cores (tests/run_files.py).
pytest: $(BIN)/.installed
	$(BIN)/python tests/run_files.py

bench: $(BIN)/.installed
	$(BIN)/paratime bench --quick

# docs/benchmarks.md and its figures, from benchmarks/results (see benchmarks/README.md)
report: $(BIN)/.installed
	$(BIN)/python -m benchmarks.bench report

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
