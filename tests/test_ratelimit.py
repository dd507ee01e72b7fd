"""Table tests of the pure rate-limit and retry policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.net.ratelimit import (
    LONGEST_BELIEVED_WAIT,
    Action,
    backoff,
    below_floor,
    decide,
    parse_count,
    parse_reset,
)

NOW = 1_000_000.0

CASES = [
    # (status, headers, attempt, body, action, wait, rate_limited)
    (200, {}, 1, "", Action.ACCEPT, 0.0, False),
    (304, {}, 1, "", Action.ACCEPT, 0.0, False),
    (403, {"retry-after": "7"}, 1, "", Action.RETRY, 7.0, True),
    (
        429,
        {
            "retry-after": "3",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 500),
        },
        1,
        "",
        Action.RETRY,
        3.0,
        True,
    ),
    (
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)},
        1,
        "",
        Action.RETRY,
        121.0,
        True,
    ),
    (
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)},
        1,
        "",
        Action.RETRY,
        1.0,
        True,
    ),
    (
        403,
        {},
        1,
        '{"message": "You have exceeded a secondary rate limit"}',
        Action.RETRY,
        60.0,
        True,
    ),
    (
        403,
        {},
        3,
        '{"message": "You have exceeded a secondary rate limit"}',
        Action.RETRY,
        240.0,
        True,
    ),
    (429, {}, 2, "", Action.RETRY, 120.0, True),
    (
        403,
        {"x-ratelimit-remaining": "12"},
        1,
        '{"message": "Resource not accessible by integration"}',
        Action.FAIL,
        0.0,
        False,
    ),
    (401, {}, 1, "", Action.FAIL, 0.0, False),
    (404, {}, 1, "", Action.FAIL, 0.0, False),
    (422, {}, 1, "", Action.FAIL, 0.0, False),
]


@pytest.mark.parametrize(
    ("status", "headers", "attempt", "body", "action", "wait", "limited"), CASES
)
def test_decide_table(
    status: int,
    headers: dict[str, str],
    attempt: int,
    body: str,
    action: Action,
    wait: float,
    limited: bool,
) -> None:
    decision = decide(status, headers, attempt, NOW, body_hint=body, jitter=0.5)
    assert decision.action is action
    assert decision.wait_seconds == pytest.approx(wait)
    assert decision.rate_limited is limited


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504])
@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_server_errors_and_connection_failures_back_off_with_jitter(
    status: int | None, attempt: int
) -> None:
    low = decide(status, {}, attempt, NOW, jitter=0.0)
    high = decide(status, {}, attempt, NOW, jitter=0.99)
    assert low.action is Action.RETRY and not low.rate_limited
    assert low.wait_seconds < high.wait_seconds
    assert low.wait_seconds == pytest.approx(0.5 * 2 ** (attempt - 1))


def test_backoff_is_capped() -> None:
    assert backoff(30, 0.99) == 30.0


def test_unparsable_retry_after_falls_back_to_reset_header() -> None:
    headers = {
        "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(NOW) + 10),
    }
    assert decide(403, headers, 1, NOW).wait_seconds == pytest.approx(11.0)


@pytest.mark.parametrize(
    ("remaining", "floor", "expected"),
    [(None, 5, False), (6, 5, False), (5, 5, True), (0, 0, True)],
)
def test_floor(remaining: int | None, floor: int, expected: bool) -> None:
    assert below_floor(remaining, floor) is expected


HEADER_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-5", "1e20", "²", "9" * 5000, "0", " 7 "]),
    st.floats().map(str),
    st.integers().map(str),
)


@settings(max_examples=500, deadline=None)
@given(
    status=st.one_of(st.none(), st.integers(100, 599)),
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"]),
        HEADER_VALUES,
    ),
    attempt=st.integers(1, 50),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_any_header_values_give_a_finite_believable_decision(
    status: int | None, headers: dict[str, str], attempt: int, jitter: float
) -> None:
    """Whatever a server sends, decide() answers; its wait is finite, non-negative and
    bounded, and a reset time it names is one a clock can show."""
    decision = decide(status, headers, attempt, NOW, body_hint="", jitter=jitter)
    assert math.isfinite(decision.wait_seconds)
    # (a primary limit waits one second past its reset, itself believed up to a day ahead)
    assert 0 <= decision.wait_seconds <= LONGEST_BELIEVED_WAIT + 1.0
    if decision.reset_at is not None:
        assert math.isfinite(decision.reset_at)
        datetime.fromtimestamp(decision.reset_at, UTC)  # representable


@settings(deadline=None)
@given(value=HEADER_VALUES)
def test_header_parsers_are_total(value: str) -> None:
    count = parse_count(value)
    assert count is None or (count >= 0 and str(count) == value.strip())
    reset = parse_reset(value, NOW)
    assert reset is None or (math.isfinite(reset) and 0 <= reset <= NOW + LONGEST_BELIEVED_WAIT)
