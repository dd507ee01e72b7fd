"""Progress of long work (tarball downloads, backtest steps) on one terminal line.

Shown only where a person watches: the CLI calls :func:`enable` with stderr, and
nothing is written unless that stream is a TTY. Off a terminal (CI, cron, the daemon's
JSON logs, pipes) every function here is a pass-through, so scripted output never
carries carriage returns. The line is rewritten in place (``\\r``) at most every
:data:`INTERVAL` seconds and erased when the work ends, leaving the output as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

INTERVAL = 0.2  # seconds between two redraws of the line

_stream: TextIO | None = None
_clock: Callable[[], float] = time.monotonic
_width = 0  # characters of the line on screen, to erase it


def enable(stream: TextIO, clock: Callable[[], float] = time.monotonic) -> bool:
    """Show progress on ``stream`` if it is a terminal; True when it will be shown."""
    global _stream, _clock  # noqa: PLW0603 - one progress line per process
    _stream = stream if stream.isatty() else None
    _clock = clock
    return _stream is not None


def disable() -> None:
    """Stop showing progress (erasing a line left on screen)."""
    global _stream  # noqa: PLW0603
    clear()
    _stream = None


def step(text: str) -> None:
    """Show ``text`` as the current step (replaces the previous line)."""
    _draw(text)


def clear() -> None:
    """Erase the progress line, if one is shown."""
    global _width  # noqa: PLW0603
    if _stream is not None and _width:
        _stream.write("\r" + " " * _width + "\r")
        _stream.flush()
    _width = 0


def metered(chunks: Iterable[bytes], label: str) -> Iterator[bytes]:
    """``chunks`` unchanged, showing ``label: N MB, R MB/s`` while they flow.

    Without a terminal the chunks are passed through with no bookkeeping at all.
    """
    if _stream is None:
        yield from chunks
        return
    began = _clock()
    last = began - INTERVAL  # the first chunk shows the line at once
    total = 0
    try:
        for chunk in chunks:
            total += len(chunk)
            now = _clock()
            if now - last >= INTERVAL:
                last = now
                _draw(bytes_line(label, total, now - began))
            yield chunk
    finally:
        clear()


def bytes_line(label: str, total: int, seconds: float) -> str:
    """``label: 12.3 MB, 4.5 MB/s`` (the rate once time has passed)."""
    text = f"{label}: {_megabytes(total)}"
    if seconds > 0:
        text += f", {_megabytes(int(total / seconds))}/s"
    return text


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def _draw(text: str) -> None:
    global _width  # noqa: PLW0603
    if _stream is None:
        return
    padding = " " * max(0, _width - len(text))
    _stream.write("\r" + text + padding)
    _stream.flush()
    _width = len(text)
