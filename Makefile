# watcher: `make run` (live check with the built-in watch), `make test`, `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test demo lint typecheck pytest bench real-backtest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

# Exit 1 only means "not ready yet": a normal answer, not a failure of make.
run: $(STAMP)
	$(VENV)/bin/watcher check || [ $$? -eq 1 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check watcher tests benchmarks
	$(VENV)/bin/ruff format --check watcher tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	$(PY) -m tests.standin.demo

# Backtest on headscale's real history from a local clone: make real-backtest HEADSCALE_GIT=DIR
real-backtest: $(STAMP)
	$(PY) -m tests.standin.real_headscale $(HEADSCALE_GIT) $(ARGS)

bench: $(STAMP)
	for f in benchmarks/[a-z]*.py; do $(PY) -m benchmarks.$$(basename $$f .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
