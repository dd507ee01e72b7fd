"""One precedence rule for every setting (README «Configuration»): flag, environment,
file, default. Randomized over which sources are given; the command shows which won.

The database URL is shown by ``watcher db upgrade``; the health address by the error of a
daemon whose port is taken (every candidate port is held, so no daemon ever starts).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.cli.main import main

SOURCES = ("flag", "env", "file")
WATCH = '[[watch]]\nid = "w"\nrepo = "o/r"\n[watch.feature]\nmarker = "some.marker"\n'
# A syntactically valid token: `watcher run` checks credentials before it binds.
FAKE_TOKEN = "ghp_" + "a" * 36

given_sources = given(given=st.sets(st.sampled_from(SOURCES)), instance=st.sampled_from(["w", "x"]))
examples = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def winner(given: set[str]) -> str:
    """The expected source: the first given in flag, env, file order, else the default."""
    return next((source for source in SOURCES if source in given), "default")


def write_config(tmp_path: Path, instance: str, sections: str) -> Path:
    path = tmp_path / f"{instance}.toml"
    path.write_text(sections + WATCH, "utf-8")
    return path


@examples
@given_sources
def test_database_url_flag_then_environment_then_file_then_instance_default(
    tmp_path_factory: pytest.TempPathFactory, given: set[str], instance: str
) -> None:
    tmp = tmp_path_factory.mktemp("db")
    urls = {source: f"sqlite:///{tmp / source}.db" for source in SOURCES}
    urls["default"] = f"sqlite:///{tmp / 'state' / 'watcher' / instance}.db"
    file_part = f'[database]\nurl = "{urls["file"]}"\n' if "file" in given else ""
    config = write_config(tmp, instance, file_part)
    args = ["db", "upgrade", "--config", str(config)]
    args += ["--db", urls["flag"]] if "flag" in given else []
    env = {"XDG_STATE_HOME": str(tmp / "state"), "WATCHER_DB_URL": None}
    env |= {"WATCHER_DB_URL": urls["env"]} if "env" in given else {}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"database at {urls[winner(given)]} is at the newest schema\n"


@pytest.fixture
def taken_ports() -> Iterator[dict[str, int]]:
    """One listening port per source: whichever wins, the daemon fails naming it."""
    with ExitStack() as stack:
        ports = {}
        for source in SOURCES:
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            ports[source] = sock.getsockname()[1]
        yield ports


@pytest.mark.slow  # listens on sockets
@examples
@given(given=st.sets(st.sampled_from(SOURCES), min_size=1), instance=st.just("w"))
def test_health_port_flag_then_environment_then_file(
    tmp_path_factory: pytest.TempPathFactory,
    taken_ports: dict[str, int],
    given: set[str],
    instance: str,
) -> None:
    tmp = tmp_path_factory.mktemp("health")
    daemon = f"[daemon]\nbind = '127.0.0.1'\nhealth_port = {taken_ports['file']}\n"
    config = write_config(tmp, instance, daemon if "file" in given else "")
    args = ["run", "--config", str(config), "--db", f"sqlite:///{tmp / 'w.db'}"]
    args += ["--health-port", str(taken_ports["flag"])] if "flag" in given else []
    env = {"GITHUB_TOKEN": FAKE_TOKEN, "WATCHER_HEALTH_PORT": None, "WATCHER_HEALTH_BIND": None}
    env |= {"WATCHER_HEALTH_PORT": str(taken_ports["env"])} if "env" in given else {}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    expected = f"on 127.0.0.1:{taken_ports[winner(given)]} "
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert errors[0].startswith("error: cannot serve the probes and /metrics " + expected)
