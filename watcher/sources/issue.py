"""The `issue` signal: state, state_reason, labels and closing PR of upstream issues.

Reported, never required by default: feature-gap issues often stay open after the
feature ships, and a closing PR lands on main long before any release.
The closing PR comes from the timeline API's ``cross-referenced`` / ``connected`` /
``closed`` events (https://docs.github.com/en/rest/issues/timeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.core.errors import PayloadError
from watcher.core.models import IssueStatus, Signal, SignalName, SignalStatus
from watcher.net.github_read import GitHubReader


def fetch_issue(reader: GitHubReader, repo: str, number: int) -> IssueStatus:
    """One issue's state; its timeline is read only when the issue is closed and changed."""
    fetched = reader.get_json(f"/repos/{repo}/issues/{number}")
    data = fetched.data
    url = reader.url(f"/repos/{repo}/issues/{number}")
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        raise PayloadError(f"{url}: issue without a state")
    closed_by, closing = None, None
    if data["state"] == "closed":
        timeline = reader.get_paginated(
            f"/repos/{repo}/issues/{number}/timeline",
            revalidate=fetched.changed,
            oldest_first=True,
        )
        closed_by = closing_reference(timeline.data, repo)
        closing = closing_pull(timeline.data, repo)
    labels = tuple(
        str(label.get("name")) for label in data.get("labels") or [] if isinstance(label, dict)
    )
    return IssueStatus(
        number=number,
        title=str(data.get("title") or ""),
        state=data["state"],
        state_reason=data.get("state_reason"),
        url=str(data.get("html_url") or url),
        labels=labels,
        closed_by=closed_by,
        closing_pull=closing,
    )


def closing_reference(events: Sequence[Any], repo: str) -> str | None:
    """The PR (``#N``) and/or commit that closed the issue, from its timeline, if any.

    Only pull requests of the same repository count: a cross-reference from another
    repository's PR with the same number is a different thing.
    """
    number = closing_pull(events, repo)
    pr = f"#{number}" if number else None
    commit: str | None = None
    for event in events:
        if isinstance(event, dict) and event.get("event") == "closed" and event.get("commit_id"):
            commit = f"commit {str(event['commit_id'])[:12]}"
    if pr and commit:
        return f"{pr} ({commit})"
    return pr or commit


_LINKS = ("cross-referenced", "connected")


def closing_pull(events: Sequence[Any], repo: str) -> int | None:
    """The number of the last pull request of ``repo`` that the timeline links to the issue."""
    pulls = referencing_pulls(events, repo)
    return pulls[-1] if pulls else None


def referencing_pulls(events: Sequence[Any], repo: str) -> list[int]:
    """Numbers of this repository's pull requests linked to the issue, in timeline order."""
    numbers: list[int] = []
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in _LINKS:
            continue
        issue = (event.get("source") or {}).get("issue") or {}
        same_repo = (issue.get("repository") or {}).get("full_name") in (None, repo)
        if issue.get("pull_request") and same_repo and isinstance(issue.get("number"), int):
            numbers.append(issue["number"])
    return numbers


def issue_signal(issues: Sequence[IssueStatus], repo: str) -> Signal:
    """One line for all watched issues, e.g. ``#2841 open; #2180 closed (completed) by #2xxx``."""
    if not issues:
        return Signal(SignalName.ISSUE, SignalStatus.SKIPPED, "no issues configured")
    parts = []
    for issue in issues:
        text = f"{repo}#{issue.number} {issue.state}"
        if issue.state == "closed":
            text += f" ({issue.state_reason or 'no reason'})"
            if issue.closed_by:
                text += f" by {issue.closed_by}"
        parts.append(text)
    all_done = all(i.state == "closed" and i.state_reason == "completed" for i in issues)
    status = SignalStatus.HOLDS if all_done else SignalStatus.MISSING
    evidence = tuple(
        f"{i.url} {i.title}" + (f" [{', '.join(i.labels)}]" if i.labels else "") for i in issues
    )
    return Signal(SignalName.ISSUE, status, "; ".join(parts), evidence)
