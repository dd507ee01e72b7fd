"""The one retry loop, for reads and writes: tenacity runs it, the pure policy decides.

(docs/architecture.md, «Talking to GitHub».) An *attempt* is a function of its number
(1, 2, ...) that returns the answer, raises an error that ends the loop, or raises
:class:`Retry` with the decision of :func:`watcher.net.ratelimit.decide` (how long to
wait: Retry-After, the quota reset, or jittered backoff) and the error to report if no
attempt follows. :func:`run` makes at most ``retries + 1`` attempts, sleeps what the
decision says through the caller's ``sleep`` (the HTTP client's is cut short by a
shutdown), and gives up at once, with that error, when the wait is longer than
``max_wait``: a command must report rather than hang.

Exactly once in effect, for writes: a :class:`Retry` marked ``applied`` says GitHub may
have applied the write although its answer was lost (a 5xx, a timeout, a dropped
connection). From then on, each later attempt first asks the caller's ``lookup`` (a read
that finds what the write would have made) and a found result is the answer; without a
lookup such a write is only repeated when it is ``idempotent``. A lookup that finds
nothing is asked once more after ``settle`` seconds before the write is sent again: the
lost attempt may still be in flight, and GitHub may apply it after our deadline (a
comment posted twice, two dashboards); a look after the pause finds it instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import TypeVar

import tenacity

from watcher.core.errors import WatcherError
from watcher.net.ratelimit import Decision, decide

T = TypeVar("T")


class Retry(Exception):
    """Raised by an attempt the policy says to repeat (``decision.action`` is RETRY)."""

    def __init__(self, decision: Decision, error: WatcherError, *, applied: bool = False) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        #: What the caller is told when no attempt follows.
        self.error = error
        #: The failed attempt may have taken effect (a write whose answer was lost).
        self.applied = applied


def judge(
    status: int | None, headers: Mapping[str, str], attempt: int, now: float, body_hint: str = ""
) -> Decision:
    """The policy's decision with a fresh random jitter, so that clients spread out."""
    return decide(status, headers, attempt, now, body_hint=body_hint, jitter=random.random())


def run(
    attempt: Callable[[int], T],
    *,
    retries: int,
    max_wait: float,
    sleep: Callable[[float], None],
    lookup: Callable[[], T | None] | None = None,
    idempotent: bool = False,
    settle: float = 0.0,
) -> T:
    """``attempt`` under the policy: its answer, or the error of its last :class:`Retry`.

    ``lookup``, ``idempotent`` and ``settle`` only matter for a ``Retry(applied=True)``:
    see the module docstring.
    """
    may_repeat_applied = lookup is not None or idempotent

    def repeat(error: BaseException) -> bool:
        return isinstance(error, Retry) and (may_repeat_applied or not error.applied)

    def stop(state: tenacity.RetryCallState) -> bool:
        # tenacity computes the wait before asking stop: a wait beyond max_wait ends it.
        return state.attempt_number > retries or state.upcoming_sleep > max_wait

    retrying = tenacity.Retrying(
        stop=stop,
        retry=tenacity.retry_if_exception(repeat),
        wait=_policy_wait,
        sleep=sleep,
        reraise=True,
    )
    uncertain = False  # an earlier attempt may have been applied
    try:
        for trial in retrying:
            with trial:
                if uncertain and lookup is not None:
                    found = lookup()
                    if found is None and settle > 0:
                        sleep(settle)  # the lost attempt may land late: look once more
                        found = lookup()
                    if found is not None:
                        return found
                try:
                    return attempt(trial.retry_state.attempt_number)
                except Retry as failure:
                    uncertain = uncertain or failure.applied
                    raise
    except Retry as failure:
        raise failure.error from failure.__cause__
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


def _policy_wait(state: tenacity.RetryCallState) -> float:
    """The wait the last attempt's decision asked for."""
    error = state.outcome.exception() if state.outcome else None
    return error.decision.wait_seconds if isinstance(error, Retry) else 0.0


def done(action: Callable[[], object]) -> Callable[[], bool]:
    """``action`` (a PyGithub write that returns nothing) made to return True when done.

    For :meth:`watcher.net.github_write.GitHubWriter.call`, whose lookups answer None
    for "not there".
    """

    def run() -> bool:
        action()
        return True

    return run


def found(condition: object) -> bool | None:
    """A lookup's answer: True when ``condition`` is truthy, else None ("not there")."""
    return True if condition else None
