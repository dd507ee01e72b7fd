"""Configured secrets are scrubbed by value, not only by pattern, wherever text goes.

An unprefixed token echoed back by a server, an Apprise URL's path in a library's debug
line, a malformed App key: none reaches the terminal, a log or the database, and a bad
key is a one-line error at start-up, before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.prs import install_app, pulls, writes
from tests.standin.headscale import load_headscale
from tests.webhook import Receiver, webhook

# Neither looks like a credential to the patterns (no ghp_ prefix, no "token " before it).
PLAIN_TOKEN = "plain-unprefixed-secret-8f2a71c4"
HOOK_PATH = "/hook-path-5e0b9d33c1"


def database_bytes(watcher: WatcherRun) -> bytes:
    return Path(watcher.db_url.removeprefix("sqlite:///")).read_bytes()


def test_an_unprefixed_token_echoed_by_a_server_is_scrubbed(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher.token = PLAIN_TOKEN
    body = json.dumps({"message": f"credential {PLAIN_TOKEN} is not valid here"}).encode()
    watcher.standin.faults.add(method="GET", path=r"/releases$", status=422, body=body, times=None)
    result = watcher("check")
    assert result.exit_code == 2
    assert "is not valid here" in result.output  # the server's message is kept...
    outputs = [result.output, watcher("status", "--json").output]
    for text in outputs:
        assert PLAIN_TOKEN not in text  # ...without the token
    assert PLAIN_TOKEN.encode() not in database_bytes(watcher)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook() as started:
        yield started


def test_verbose_logs_never_show_an_apprise_webhook(acting: WatcherRun, receiver: Receiver) -> None:
    acting.env["WATCHER_APPRISE_URLS"] = receiver.url(path=HOOK_PATH)
    load_headscale(acting.standin, "waiting")
    result = acting("run", "--once", "--verbose")
    assert result.exit_code == 0, result.output
    assert receiver.accepted  # a message went to the webhook...
    assert "DEBUG" in result.output or '"debug"' in result.output  # ...with debug logs on
    assert HOOK_PATH.strip("/") not in result.output
    assert f"127.0.0.1:{receiver.port}" not in result.output


@pytest.mark.parametrize(
    "damage",
    [
        lambda pem: pem[: len(pem) // 2] + pem[-40:],  # a part of the body lost
        lambda pem: pem.replace("PRIVATE KEY", "PUBLIC KEY"),  # the wrong file
        lambda pem: pem.replace("A", "*", 1),  # not base64
    ],
)
def test_a_malformed_app_key_is_a_config_error_at_start(
    acting: WatcherRun, tmp_path: Path, damage: object
) -> None:
    load_headscale(acting.standin, "ready")
    acting.token = None
    acting.env.update(install_app(acting.standin, tmp_path))
    key_file = Path(acting.env["WATCHER_APP_PRIVATE_KEY_FILE"])
    pem = key_file.read_text()
    assert callable(damage)
    key_file.write_text(damage(pem))
    acting.standin.log.clear()
    result = acting("run", "--once")
    assert result.exit_code == 2
    assert "bug in watcher" not in result.output and "Traceback" not in result.output
    assert f"error: WATCHER_APP_PRIVATE_KEY_FILE={key_file}:" in result.output
    body_line = pem.splitlines()[1]
    assert body_line not in result.output
    assert writes(acting.standin) == [] and pulls(acting.standin) == []
