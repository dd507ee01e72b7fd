"""The progress line: watcher.core.progress drawn on one terminal line.

Shown only where a person watches: the CLI calls :func:`enable` with stderr, and
nothing is registered unless that stream is a TTY. Off a terminal (CI, cron, the
daemon's JSON logs, pipes) the core's progress calls stay pass-throughs, so scripted
output never carries carriage returns. The line is rewritten in place (``\\r``) at most
every :data:`INTERVAL` seconds while bytes flow and erased when the work ends, leaving
the output as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from watcher.core import progress

INTERVAL = 0.2  # seconds between two redraws while bytes flow


class TerminalLine:
    """A :class:`watcher.core.progress.Sink` that rewrites one line of ``stream``."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._width = 0  # characters of the line on screen, to erase it
        self._transfer: str | None = None  # label of the transfer being metered
        self._began = 0.0
        self._drawn = 0.0

    def step(self, text: str) -> None:
        """Show ``text`` at once, over whatever the line showed."""
        self._draw(text)

    def flowed(self, label: str, total: int) -> None:
        """Show ``label: N MB, R MB/s``, redrawn at most every :data:`INTERVAL` seconds."""
        now = self._clock()
        if label != self._transfer:
            self._transfer, self._began = label, now
            self._drawn = now - INTERVAL  # a new transfer shows at once
        if now - self._drawn >= INTERVAL:
            self._drawn = now
            self._draw(bytes_line(label, total, now - self._began))

    def clear(self) -> None:
        """Erase the line, if one is shown."""
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
        self._width = 0
        self._transfer = None

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self._stream.write("\r" + text + padding)
        self._stream.flush()
        self._width = len(text)


def enable(stream: TextIO, clock: Callable[[], float] = time.monotonic) -> bool:
    """Show progress on ``stream`` if it is a terminal; True when it will be shown."""
    progress.register(TerminalLine(stream, clock) if stream.isatty() else None)
    return stream.isatty()


def disable() -> None:
    """Stop showing progress, erasing a line left on screen."""
    progress.clear()
    progress.register(None)


def bytes_line(label: str, total: int, seconds: float) -> str:
    """``label: 12.3 MB, 4.5 MB/s`` (the rate once time has passed)."""
    text = f"{label}: {_megabytes(total)}"
    if seconds > 0:
        text += f", {_megabytes(int(total / seconds))}/s"
    return text


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"
