"""Progress of long work (tarball downloads, backtest steps): a hook, not a display.

The work reports where it is (:func:`step`, :func:`metered`, :func:`clear`); whoever
shows it registers a :class:`Sink` with :func:`register`. Nothing is registered unless
the CLI runs on a terminal (watcher.cli.progress_line draws the line there), so in the
daemon, in tests and through pipes every function here is a pass-through that writes
nothing: the core does no I/O (docs/architecture.md, «Invariants»).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol


class Sink(Protocol):
    """What shows progress (one line on a terminal, in the CLI)."""

    def step(self, text: str) -> None:
        """Show ``text`` as the current step, replacing the previous one."""

    def flowed(self, label: str, total: int) -> None:
        """``total`` bytes of the transfer ``label`` have arrived (0 when it starts)."""

    def clear(self) -> None:
        """The work shown has ended: take it off the screen."""


_sink: Sink | None = None


def register(sink: Sink | None) -> None:
    """Send progress to ``sink`` from now on; None sends it nowhere."""
    global _sink  # noqa: PLW0603 - one progress display per process
    _sink = sink


def step(text: str) -> None:
    """Report ``text`` as the current step of the work."""
    if _sink is not None:
        _sink.step(text)


def clear() -> None:
    """Report that the work shown has ended."""
    if _sink is not None:
        _sink.clear()


def metered(chunks: Iterable[bytes], label: str) -> Iterator[bytes]:
    """``chunks`` unchanged, reporting the bytes that flowed under ``label``.

    With no sink the chunks are passed through with no bookkeeping at all.
    """
    sink = _sink
    if sink is None:
        yield from chunks
        return
    total = 0
    sink.flowed(label, total)
    try:
        for chunk in chunks:
            total += len(chunk)
            sink.flowed(label, total)
            yield chunk
    finally:
        sink.clear()
