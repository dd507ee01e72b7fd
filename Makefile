# watcher: `make run` (live check with the built-in watch), `make test`, `make test-fast`
# (the in-process tests, for every minute), `make demo`,
# `make standin` (the offline playground), `make lock` (re-pin the dependencies).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Locked versions (requirements/*.txt, written by `make lock` from pyproject.toml):
# runtime = watcher's own dependencies, dev = runtime + postgres + test tools.
# container.txt (runtime + postgres) is what the Dockerfile installs.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt
RUNTIME_STAMP := $(VENV)/.runtime
STAMP := $(VENV)/.installed
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.9
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--quiet --annotation-style line --custom-compile-command 'make lock'

.PHONY: run test test-fast demo standin lint typecheck pytest bench real-backtest real-backtest-node-exporter lock lock-upgrade clean

# Pinned, no resolution at install time: every pin with --no-deps, then watcher itself,
# then `pip check` fails when pyproject.toml asks for something the lock lacks.
define install_lock
	@echo "installing $(1) into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --no-deps -r $(1)
	@$(PY) -m pip install -qq --no-deps -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; \
		echo "$(1) does not match pyproject.toml: run 'make lock'"; exit 1; }
endef

# `make run` needs only the runtime (no test tools, no PostgreSQL driver).
$(RUNTIME_STAMP): pyproject.toml $(RUNTIME_LOCK)
	$(call install_lock,$(RUNTIME_LOCK))
	@touch $@

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(call install_lock,$(DEV_LOCK))
	@touch $@ $(RUNTIME_STAMP)

# The verdict is the output. Exit 1 (not ready yet) and 2 (an error, e.g. offline: the
# one line says so) are answers, not failures of make; scripts use `watcher check`.
run: $(RUNTIME_STAMP)
	@$(VENV)/bin/watcher check || [ $$? -le 2 ]

# ruff also keeps print and exit in the CLI and the service; lint-imports checks the import
# contracts of docs/architecture.md (configured in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check watcher tests benchmarks
	$(VENV)/bin/ruff format --check watcher tests benchmarks
	$(VENV)/bin/lint-imports --no-cache --no-logo

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The suite mostly waits (subprocesses, servers, sockets), so workers beyond the two
# cores still shorten it: `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 4
pytest: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

test: lint typecheck pytest

# The fast tier: pure and in-process tests, no servers, processes or PostgreSQL
# (tests/conftest.py marks the rest `slow` and fails a fast test that starts either).
# Two workers: 20 s instead of 31 s on an idle 2-core machine (CPU-bound, unlike the
# slow tier); `make test-fast FAST_WORKERS=0` runs in one process.
FAST_WORKERS ?= 2
test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(FAST_WORKERS) -m "not slow and not live"

demo: $(STAMP)
	$(PY) -m tests.standin.demo

# The stand-in keeps running (Ctrl-C stops it) with its config; it prints what to use.
standin: $(STAMP)
	$(PY) -m tests.standin.playground $(ARGS)

# Backtest on headscale's real history from a local clone: make real-backtest HEADSCALE_GIT=DIR
real-backtest: $(STAMP)
	$(PY) -m tests.standin.real_headscale $(HEADSCALE_GIT) $(ARGS)

# The second real watch (examples/node-exporter-swap.toml) on a clone of prometheus/node_exporter.
real-backtest-node-exporter: $(STAMP)
	$(PY) -m tests.standin.real_node_exporter $(NODE_EXPORTER_GIT) $(ARGS)

bench: $(STAMP)
	for f in benchmarks/[a-z]*.py; do $(PY) -m benchmarks.$$(basename $$f .py) || exit 1; done

# Re-pin after changing dependencies in pyproject.toml: existing pins are kept, new
# ones resolved from PyPI (uv ignores this machine's pip configuration). The lock is
# universal (any OS, Python >= 3.11: the image runs 3.12). `make lock-upgrade` moves
# every pin to the newest release.
$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(LOCK_VENV)/bin/uv
	$(UV_COMPILE) $(UV_FLAGS) --extra postgres --extra test -o $(DEV_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) -o $(RUNTIME_LOCK)
	$(UV_COMPILE) -c $(DEV_LOCK) --extra postgres -o requirements/container.txt

lock-upgrade:
	$(MAKE) lock UV_FLAGS=--upgrade

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache
