"""Unexpected exceptions (bugs): one line for the user, the full traceback kept aside.

The runner's error boundaries (:mod:`watcher.runner.boundary`) turn any exception that
is not a :class:`~watcher.core.errors.WatcherError` into a :class:`Crash`: a one-line
summary that is recorded as the watch's error like any other, and the traceback, which
the shells put where a user can find it (the daemon's log line, a crash report file for
one-shot commands). The user always sees the one line and where to report it, never
only a traceback. Secrets are scrubbed from the traceback text before it is kept
anywhere (docs/architecture.md, «Invariants»).
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watcher import ISSUES_URL
from watcher.core.redact import redact_text

# An exception message can be a whole response body; the summary stays one short line.
SUMMARY_LIMIT = 200


@dataclass(frozen=True)
class Crash:
    """An unexpected exception: ``summary`` for the user, ``traceback`` for the report."""

    summary: str
    traceback: str

    @classmethod
    def of(cls, exc: BaseException) -> Crash:
        """The crash of ``exc`` (call inside the ``except`` block that caught it)."""
        text = " ".join(str(exc).split())  # one line, whatever the message held
        if len(text) > SUMMARY_LIMIT:
            text = text[: SUMMARY_LIMIT - 1] + "…"
        summary = f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")
        trace = "".join(traceback.format_exception(exc))
        return cls(redact_text(summary), redact_text(trace))


def report_hint(where: str) -> str:
    """The hint of a crash: it is a bug, where to report it, where its traceback is."""
    return f"this is a bug in watcher: please report it at {ISSUES_URL} with the traceback {where}"


def save_report(crashes: list[tuple[str, Crash]], directory: Path) -> Path:
    """Write the tracebacks (each under its label) to a new file in ``directory``.

    The file is private to the user (0600): a traceback is scrubbed of tokens, yet it
    still shows paths and repository names.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"crash-{stamp}-{os.getpid()}.txt"
    text = "".join(f"== {label}: {crash.summary}\n{crash.traceback}\n" for label, crash in crashes)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    return path
