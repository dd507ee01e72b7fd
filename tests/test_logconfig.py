"""Tests of watcher.service.logconfig: format choice, redaction of secrets, the per-watch line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from watcher import ISSUES_URL
from watcher.config.model import FeatureConfig, WatchConfig
from watcher.core.models import Release, Verdict, VerdictState
from watcher.core.redact import redact_text
from watcher.runner.crash import Crash, report_hint
from watcher.runner.report import WatchOutcome
from watcher.service.logconfig import configure, log_evaluation

PAT = "ghp_" + "A1b2C3d4E5" * 4
FINE = "github_pat_11ABCDEFG0" + "x1Y2z3" * 8
INSTALLATION = "ghs_" + "Zz9Yy8Xx7W" * 4
HEX = "0123456789abcdef0123456789abcdef01234567"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SECRETS = (PAT, FINE, INSTALLATION, HEX, JWT, "hunter2")


class TTY(io.StringIO):
    """A stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo configure(): root handlers and level, library levels, structlog defaults."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("apscheduler", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: [REDACTED]"),
        (f"{{'authorization': 'token {HEX}'}}", "{'authorization': '[REDACTED]'}"),
        (f"sent Bearer {JWT} upstream", "sent Bearer [REDACTED] upstream"),
        (f"header token {HEX}", "header token [REDACTED]"),
        (f"GITHUB_TOKEN={PAT} was set", "GITHUB_TOKEN=[REDACTED] was set"),
        (f"using {FINE}.", "using [REDACTED]."),
        (f"installation {INSTALLATION}", "installation [REDACTED]"),
        ("postgresql://watcher:hunter2@db/watcher", "postgresql://watcher:[REDACTED]@db/watcher"),
        # Prose and ordinary URLs stay readable.
        (
            "token expired, anonymous bearer token flow",
            "token expired, anonymous bearer token flow",
        ),
        (
            "https://api.github.com/repos/juanfont/headscale",
            "https://api.github.com/repos/juanfont/headscale",
        ),
        ("ghp_short", "ghp_short"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The JSON objects written to ``stream``, one per line."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_off_tty_and_no_secret_in_any_field() -> None:
    stream = io.StringIO()
    configure(stream=stream)  # not a TTY: JSON lines
    log = structlog.stdlib.get_logger("watcher.test")
    log.info(
        f"calling with Authorization: Bearer {JWT}",
        token=PAT,
        headers={"Authorization": f"token {HEX}", "Accept": "application/json"},
        refs=[f"x {INSTALLATION}", FINE],
        url="postgresql://watcher:hunter2@db/watcher",
    )
    try:
        raise RuntimeError(f"401 for {PAT}")
    except RuntimeError:
        log.exception("request failed")
    logging.getLogger("httpx").warning("foreign record with %s", FINE)
    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    first, second, third = lines(stream)
    assert first["event"] == "calling with Authorization: [REDACTED]"
    assert first["headers"] == {"Authorization": "[REDACTED]", "Accept": "application/json"}
    assert first["level"] == "info"
    assert "RuntimeError: 401 for [REDACTED]" in second["exception"]
    assert third == {**third, "event": "foreign record with [REDACTED]", "logger": "httpx"}


def test_console_on_a_tty_still_redacts() -> None:
    stream = TTY()
    configure(stream=stream, level="DEBUG")
    structlog.stdlib.get_logger("watcher.test").debug("hello", header=f"Bearer {JWT}")
    output = stream.getvalue()
    assert "hello" in output
    assert JWT not in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output)


def test_level_and_noisy_libraries_are_filtered() -> None:
    stream = io.StringIO()
    configure(json=True, level="WARNING", stream=stream)
    log = structlog.stdlib.get_logger("watcher.test")
    log.info("dropped")
    log.warning("kept")
    configure(json=True, stream=stream)  # reconfiguring replaces the handler
    logging.getLogger("apscheduler.scheduler").info("Running job every cycle")
    log.info("also kept")
    assert [line["event"] for line in lines(stream)] == ["kept", "also kept"]


def test_one_line_per_watch_evaluation() -> None:
    stream = io.StringIO()
    configure(json=True, stream=stream)
    watch = WatchConfig(
        id="headscale", repo="juanfont/headscale", feature=FeatureConfig(marker="x.y")
    )
    release = Release("v0.29.0", "0.29.0", False, False, "https://example.invalid", None)
    verdict = Verdict("headscale", VerdictState.READY, release, (), ())
    log = structlog.stdlib.get_logger("watcher.service.daemon")
    log_evaluation(log, WatchOutcome(watch, verdict, None, None, None, 1.23456, 5, 4))
    log_evaluation(log, WatchOutcome(watch, None, f"401 with {PAT}", "check", None, 0.1, 1, 0))
    ok, failed = lines(stream)
    assert ok == {
        **ok,
        "event": "watch evaluated",
        "level": "info",
        "watch": "headscale",
        "verdict": "ready",
        "target": "v0.29.0",
        "duration": 1.235,
        "requests": 5,
        "not_modified": 4,
    }
    assert failed["level"] == "warning"
    assert failed["verdict"] is None
    assert failed["error"] == "401 with [REDACTED]"


def test_an_unexpected_error_is_logged_at_error_level_with_its_traceback() -> None:
    stream = io.StringIO()
    configure(json=True, stream=stream)
    watch = WatchConfig(id="w", repo="o/r", feature=FeatureConfig(marker="x.y"))
    try:
        raise KeyError(f"feature_nam with {PAT}")
    except KeyError as exc:
        crash = Crash.of(exc)
    hint = report_hint("from the log")
    outcome = WatchOutcome(watch, None, crash.summary, hint, None, 0.1, 1, 0, crash=crash)
    log_evaluation(structlog.stdlib.get_logger("watcher.service.daemon"), outcome)
    (line,) = lines(stream)
    assert (line["level"], line["error"]) == (
        "error",
        "unexpected KeyError: 'feature_nam with [REDACTED]'",
    )
    assert line["hint"] == report_hint("from the log")
    assert line["hint"].startswith(f"this is a bug in watcher: please report it at {ISSUES_URL} ")
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "raise KeyError" in line["exception"] and PAT not in stream.getvalue()
