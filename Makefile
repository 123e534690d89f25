# racksim: `make run` and `make test` work on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RESULTS ?= results/quick
DESIGNS := $(sort $(wildcard designs/*.yaml))

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/racksim compare $(DESIGNS) --suite quick --out $(RESULTS)

test: $(STAMP)
	$(BIN)/ruff check racksim tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:randomly -o testpaths=benchmarks

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache .hypothesis .benchmarks
