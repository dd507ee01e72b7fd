"""GitHub's clock beside ours: the offset its answers' ``Date`` header gives, and when to warn.

(docs/architecture.md, «Talking to GitHub».) GitHub filters ``since`` by its own clock,
so every time sent to it is ours moved by the offset (:func:`on_github`): a machine whose
clock runs days ahead (a laptop, a VM after suspend, a board without a real-time clock)
otherwise asks for comments "since" a moment GitHub has not reached, finds none, and
posts again. Pure: the offset is measured by the read client (``RequestStats``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: A skew above this is shown as a warning by `status`, the dashboard and ``/readyz``.
SKEW_WARNING = timedelta(minutes=1)
#: Where the last measured offset (GitHub's clock minus ours, whole seconds) is kept.
OFFSET_KEY = "clock:github-offset"


def on_github(ours: datetime, offset_seconds: float | None) -> datetime:
    """``ours`` (a time on this machine's clock) as GitHub's clock shows it."""
    return ours + timedelta(seconds=offset_seconds or 0.0)


def skew_warning(offset_seconds: float | None) -> str | None:
    """One line saying how far this machine's clock is from GitHub's, when over a minute."""
    if offset_seconds is None or abs(offset_seconds) <= SKEW_WARNING.total_seconds():
        return None
    side = "behind" if offset_seconds > 0 else "ahead of"
    return (
        f"this machine's clock is {_span(abs(offset_seconds))} {side} GitHub's; watcher "
        "uses GitHub's for what it asks, but check the machine's time sync (NTP)"
    )


def parse_offset(text: str | None) -> float | None:
    """A stored offset back as seconds (None when absent or not a finite number)."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and abs(value) < 1e9 else None


def _span(seconds: float) -> str:
    """``seconds`` in the largest unit that reads well (days, hours or minutes)."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} seconds"
