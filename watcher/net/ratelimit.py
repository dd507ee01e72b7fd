"""The one rate-limit and retry policy: pure, no I/O, table-tested.

Given a response status (or ``None`` for a connection error / timeout), its headers and
the attempt number, :func:`decide` says whether to accept the answer, retry after some
seconds, or fail. The order follows GitHub's documented guidance
(https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately):

1. ``retry-after`` present: wait that many seconds;
2. else ``x-ratelimit-remaining: 0``: wait until ``x-ratelimit-reset``;
3. else a secondary-limit 403/429 without those headers: wait at least 60 s, doubling;
4. 5xx and connection errors: jittered exponential backoff;
5. any other 4xx: never retried.

Header values come from the network and are parsed totally: a value that is not a plain
number, not finite (``nan``, ``inf``, ``1e400``), negative, or further away than
:data:`LONGEST_BELIEVED_WAIT` is treated as absent, so the next rule decides. No input
makes :func:`decide` raise or ask for a wait a clock cannot represent.

Beside it, :class:`RequestPace`: how fast requests may start at all (GitHub's points a
minute), a token bucket on an injected clock.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SECONDARY_MIN_WAIT = 60.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
#: A ``retry-after`` or quota reset further away than this is not believed: GitHub's
#: quota window is an hour, and a hostile or broken server must not park the daemon.
LONGEST_BELIEVED_WAIT = 86_400.0


class Action(enum.StrEnum):
    """What the caller does with a response."""

    ACCEPT = "accept"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one response."""

    action: Action
    wait_seconds: float = 0.0
    reason: str = ""
    rate_limited: bool = False
    reset_at: float | None = None


def decide(
    status: int | None,
    headers: Mapping[str, str],
    attempt: int,
    now: float,
    *,
    body_hint: str = "",
    jitter: float = 0.5,
) -> Decision:
    """Classify one response; ``attempt`` starts at 1, ``jitter`` is a number in [0, 1).

    ``headers`` keys must be lower-case. ``body_hint`` is the start of the response body,
    used only to tell a secondary rate limit (403 whose message says so) from a plain
    permission error, which must not be retried.
    """
    if status is not None and status < 400:
        return Decision(Action.ACCEPT)
    if status in (403, 429):
        limited = _rate_limit_decision(status, headers, attempt, now, body_hint)
        if limited is not None:
            return limited
    if status is None or status >= 500:
        what = "connection failed" if status is None else f"server error {status}"
        return Decision(Action.RETRY, backoff(attempt, jitter), what)
    return Decision(Action.FAIL, reason=f"client error {status}")


def _rate_limit_decision(
    status: int, headers: Mapping[str, str], attempt: int, now: float, body_hint: str
) -> Decision | None:
    retry_after = _number(headers.get("retry-after"))
    reset_at = parse_reset(headers.get("x-ratelimit-reset"), now)
    if retry_after is not None and retry_after <= LONGEST_BELIEVED_WAIT:
        return Decision(
            Action.RETRY,
            retry_after,
            "rate limited (retry-after)",
            rate_limited=True,
            reset_at=now + retry_after,
        )
    if headers.get("x-ratelimit-remaining") == "0":
        wait = max((reset_at or now) - now, 0.0) + 1.0
        return Decision(
            Action.RETRY, wait, "primary rate limit exhausted", rate_limited=True, reset_at=reset_at
        )
    if status == 429 or "secondary rate limit" in body_hint.lower():
        # Doubling from a minute passes a day at the 12th attempt: no backoff is believed
        # longer than that, and its reset time stays one a clock can show.
        wait = min(SECONDARY_MIN_WAIT * 2 ** (max(attempt, 1) - 1), LONGEST_BELIEVED_WAIT)
        return Decision(
            Action.RETRY, wait, "secondary rate limit", rate_limited=True, reset_at=now + wait
        )
    return None


def backoff(attempt: int, jitter: float) -> float:
    """Exponential backoff with jitter: base * 2**(attempt-1) scaled into [0.5, 1.5), capped."""
    raw = BACKOFF_BASE * 2 ** (max(attempt, 1) - 1)
    return float(min(raw * (0.5 + jitter), BACKOFF_CAP))


def below_floor(remaining: int | None, floor: int) -> bool:
    """True when the known remaining quota has reached the reserve a poll must not spend."""
    return remaining is not None and remaining <= floor


def parse_count(value: str | None) -> int | None:
    """A header's non-negative integer (``x-ratelimit-remaining``), None unless plain digits."""
    if value is None:
        return None
    value = value.strip()
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value)


def parse_reset(value: str | None, now: float) -> float | None:
    """``x-ratelimit-reset`` (epoch seconds), None when absent, absurd or too far ahead."""
    reset = _number(value)
    if reset is None or reset > now + LONGEST_BELIEVED_WAIT:
        return None
    return reset


def _number(value: str | None) -> float | None:
    """A finite, non-negative number of seconds, or None."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        # retry-after may be an HTTP date (RFC 9110); GitHub sends seconds, so an
        # unparsable value is treated as absent rather than guessed at.
        return None
    return number if math.isfinite(number) and number >= 0 else None


#: GitHub requests a pace lets through at once before its rate applies: a small run is
#: never slowed, and no minute holds more than the burst plus the rate.
PACE_BURST = 150


class RequestPace:
    """GitHub's points a minute (its secondary limit), as a token bucket.

    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
    A request takes a token; when none is left it waits until one has refilled, so any
    60 s holds at most ``burst`` + ``per_minute`` requests. One pace serves every worker
    of a run, and the daemon keeps one for all its cycles: a cycle that starts right
    after another does not start a new burst within the same minute.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = PACE_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._tokens, self._filled = self.burst, clock()
        self._lock = threading.Lock()

    def available(self) -> float:
        """Tokens left now (negative: requests already waiting for their turn)."""
        with self._lock:
            return min(self.burst, self._tokens + (self._clock() - self._filled) * self.rate)

    def delay(self) -> float:
        """Take this request's token: the seconds it must wait before it is sent (0: now)."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            refilled = self._tokens + (now - self._filled) * self.rate
            self._tokens, self._filled = min(self.burst, refilled) - 1, now
            return -self._tokens / self.rate if self._tokens < 0 else 0.0
