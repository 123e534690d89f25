# racksim: `make run` and `make test` work on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DOCS_STAMP := $(VENV)/.installed-docs
RESULTS ?= results/quick
DESIGNS := $(sort $(wildcard designs/*.yaml))

.PHONY: run test test-fast docs fuzz bench lint clean chromium validation-table

# pytest over PYTEST_WORKERS processes (pytest-xdist; `auto`: one per core, 0: in this process); a module's tests,
# and its module-scoped fixtures, stay on one worker. FAST: the tier without the tests marked slow, browser or dask.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile
FAST := not slow and not browser and not dask

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/racksim compare $(DESIGNS) --suite quick --out $(RESULTS)

test: $(STAMP) chromium
	$(BIN)/ruff check racksim tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(PYTEST) --durations=25

# The fast tier, under a minute: the tests not marked slow, browser or dask (`make test` runs them all).
test-fast: $(STAMP)
	$(PYTEST) -m "$(FAST)" --durations=10

# The documentation site in site/ (mkdocs.yml): --strict fails on a warning (a broken link, a missing docstring
# target); the hooks in docs/hooks.py generate the reference from the code and run the gallery's scripts.
$(DOCS_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The browser test opens the report in Debian's headless chromium; install it when missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "chromium is missing and there is no sudo to install it: apt-get install -y chromium" >&2; exit 1; fi; \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; \
	fi

# Long fuzzing of the design, hall, suite and --set loaders (hypothesis "fuzz" profile, tests/conftest.py).
fuzz: $(STAMP)
	$(BIN)/python -m pytest tests/test_fuzz_loaders.py --hypothesis-profile=fuzz --hypothesis-show-statistics

# The performance model's validation tables in README.md and racksim/perf/VALIDATION.md, rewritten from the current
# predictions (tests/test_validation_tables.py fails until they agree).
validation-table: $(STAMP)
	$(BIN)/python -m racksim.report.validation_tables

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:randomly -o testpaths=benchmarks

clean:
	rm -rf $(VENV) results site .pytest_cache .ruff_cache .hypothesis .benchmarks
