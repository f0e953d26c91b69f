# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint types pytest docs dist bench report clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all,dev,docs]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/paratime demo

test: lint types pytest docs dist

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests conftest.py docs/hooks benchmarks/bench benchmarks/elm benchmarks/decomp benchmarks/pararealnet

types: $(BIN)/.installed
	$(BIN)/pyright

# One process per test file, as many at a time as there are cores (tests/run_files.py).
pytest: $(BIN)/.installed
	$(BIN)/python tests/run_files.py

# Build the wheel and the sdist, `twine check` them, install the wheel in a fresh venv and
# import it there and run an unroll (.ci/check_dist.py; DIST_FLAGS=--online to install the
# core dependencies from PyPI instead of reusing this venv's).
dist: $(BIN)/.installed
	$(BIN)/python .ci/check_dist.py $(DIST_FLAGS)

# The documentation site from docs/ and the docstrings (mkdocs.yml), into site/. Strict: a
# broken link, a missing page or a docstring mkdocstrings cannot read fails the build.
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(BIN)/.installed
	$(BIN)/paratime bench --quick

# docs/benchmarks.md and its figures, from benchmarks/results (see benchmarks/README.md)
report: $(BIN)/.installed
	$(BIN)/python -m benchmarks.bench report

clean:
	rm -rf $(VENV) build dist site .pytest_cache .ruff_cache
