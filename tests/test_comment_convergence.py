"""Comments converge (issue 20 item 1): at most one comment per outbox marker stays.

A comment POST GitHub applies after our timeout used to be posted twice: the lookup ran
while the first write was still in flight. Now a lost write is looked up once more after
a pause (net/retry.py's settle), and every acting cycle checks its footprint on the
issue: a later copy of a marker's comment, by watcher's own login, is deleted. The
stand-in's ``applied_after`` fault applies the POST in the background, seconds after
answering 504 at once, as a gateway that timed out while GitHub went on.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.prs import CHART, api, dashboard_comments, writes
from tests.standin.headscale import load_headscale
from watcher.notify.outbox import duplicate_comments

COMMENTS = r"/issues/\d+/comments$"
MAINTAINER = "tok-maintainer"


def marked(comments: list[str]) -> Counter[str]:
    """How often each outbox marker appears among the dashboard's comments."""
    return Counter(line for c in comments for line in c.splitlines() if "watcher:outbox=" in line)


def posts(acting: WatcherRun) -> int:
    return len(acting.standin.log.where(method="POST", path=COMMENTS))


def late_comment_run(acting: WatcherRun, timeout: int, after: float) -> None:
    """`run --once` on a ready watch whose first comment GitHub applies ``after`` s late."""
    acting.github = {"write_interval_seconds": "0", "timeout_seconds": str(timeout)}
    load_headscale(acting.standin, "ready")
    late = acting.standin.faults.add(method="POST", path=COMMENTS, status=504, applied_after=after)
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    assert late.hits == 1


def test_a_comment_applied_after_the_timeout_but_within_the_pause_is_posted_once(
    acting: WatcherRun,
) -> None:
    standin = acting.standin
    late_comment_run(acting, timeout=2, after=1.0)
    counts = marked(dashboard_comments(standin))
    assert counts and set(counts.values()) == {1}, counts
    assert posts(acting) == len(counts), "the late comment was sent again"


def test_a_comment_applied_after_every_lookup_is_deleted_by_the_next_cycle(
    acting: WatcherRun,
) -> None:
    standin = acting.standin
    late_comment_run(acting, timeout=1, after=2.5)
    deadline = time.monotonic() + 10
    while max(marked(dashboard_comments(standin)).values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert max(marked(dashboard_comments(standin)).values()) == 2, "the race did not happen"
    assert acting("run", "--once").exit_code == 0
    counts = marked(dashboard_comments(standin))
    assert set(counts.values()) == {1}, counts
    standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(standin) == [], "a converged issue costs no write"


def test_a_duplicate_planted_by_hand_is_deleted_and_a_quote_by_someone_else_stays(
    acting: WatcherRun,
) -> None:
    standin = acting.standin
    load_headscale(standin, "ready")
    standin.github.add_token(MAINTAINER, push_to=[CHART], login="maintainer")
    assert acting("run", "--once").exit_code == 0
    issues = api(standin, f"/repos/{CHART}/issues?state=all")
    (dashboard,) = [i for i in issues if "<!-- watcher:dashboard" in (i["body"] or "")]
    url = f"{standin.api_url}/repos/{CHART}/issues/{dashboard['number']}/comments"
    first = dashboard_comments(standin)[0]
    for token in ("tok-chart-push", MAINTAINER):  # watcher's own login, then a human's
        reply = httpx.post(url, json={"body": first}, headers={"Authorization": f"token {token}"})
        reply.raise_for_status()
    assert acting("run", "--once").exit_code == 0
    after = api(standin, f"/repos/{CHART}/issues/{dashboard['number']}/comments")
    authors = Counter(c["user"]["login"] for c in after if c["body"] == first)
    assert authors == Counter({"watcher-bot": 1, "maintainer": 1})
    assert set(
        marked([c["body"] for c in after if c["user"]["login"] == "watcher-bot"]).values()
    ) == {1}


ids = st.integers(min_value=1, max_value=50)
comment = st.fixed_dictionaries(
    {
        "id": ids,
        "created_at": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]),
        "user": st.fixed_dictionaries({"login": st.sampled_from(["bot", "human"])}),
        "body": st.sampled_from(
            [f"<!-- watcher:outbox={n} watch=w -->\ntext" for n in (1, 2)] + ["plain words"]
        ),
    }
)


@given(st.lists(comment, max_size=12, unique_by=lambda c: c["id"]))
def test_one_comment_per_marker_and_author_stays_and_the_first_is_kept(
    comments: list[dict[str, object]],
) -> None:
    doomed = set(duplicate_comments(comments))
    kept = [c for c in comments if c["id"] not in doomed]
    assert doomed <= {c["id"] for c in comments}
    by_mark: dict[str, list[dict[str, object]]] = {}
    for c in comments:
        body = str(c["body"])
        if "watcher:outbox" in body:
            by_mark.setdefault(body, []).append(c)
    for same in by_mark.values():
        first = min(same, key=lambda c: (str(c["created_at"]), int(str(c["id"]))))
        assert first in kept, "the first comment of a marker is never deleted"
        owner = first["user"]
        survivors = [c for c in same if c in kept and c["user"] == owner]
        assert survivors == [first], "a later copy by the same author survived"
        assert all(c in kept for c in same if c["user"] != owner), "someone else's went"
    assert all(c in kept for c in comments if "watcher:outbox" not in str(c["body"]))
