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


def fetch_issue(
    reader: GitHubReader, repo: str, number: int, *, fresh_for: float | None = None
) -> IssueStatus:
    """One issue's state; its timeline is read only when the issue is closed and changed.

    ``fresh_for`` (seconds): an answer GitHub gave or confirmed less than that long ago
    is used without asking (the caller decides when the issue is only informational).
    """
    data, changed = read_issue(reader, repo, number, fresh_for=fresh_for)
    timeline: Sequence[Any] = ()
    if data["state"] == "closed":
        timeline = read_timeline(reader, repo, number, revalidate=changed)
    return issue_status(reader, repo, number, data, timeline)


def read_issue(
    reader: GitHubReader, repo: str, number: int, *, fresh_for: float | None = None
) -> tuple[dict[str, Any], bool]:
    """The issue's JSON (checked to be one) and whether it changed since the last read."""
    fetched = reader.get_json(f"/repos/{repo}/issues/{number}", fresh_for=fresh_for)
    data = fetched.data
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        raise PayloadError(f"{reader.url(f'/repos/{repo}/issues/{number}')}: issue without a state")
    return data, fetched.changed


def read_timeline(
    reader: GitHubReader, repo: str, number: int, *, revalidate: bool
) -> Sequence[Any]:
    """The issue's timeline events, oldest first."""
    path = f"/repos/{repo}/issues/{number}/timeline"
    fetched = reader.get_paginated(path, revalidate=revalidate, oldest_first=True)
    events: Sequence[Any] = fetched.data
    return events


def issue_status(
    reader: GitHubReader, repo: str, number: int, data: dict[str, Any], timeline: Sequence[Any]
) -> IssueStatus:
    """What ``check`` and the backtest know of an issue, from its JSON and its timeline."""
    closed = data["state"] == "closed"
    # Informational fields of the wrong type count as absent (a string is no label list).
    labels = tuple(
        str(label.get("name")) for label in _list(data.get("labels")) if isinstance(label, dict)
    )
    reason = data.get("state_reason")
    return IssueStatus(
        number=number,
        title=str(data.get("title") or ""),
        state=data["state"],
        state_reason=reason if isinstance(reason, str) else None,
        url=str(data.get("html_url") or reader.url(f"/repos/{repo}/issues/{number}")),
        labels=labels,
        closed_by=closing_reference(timeline, repo) if closed else None,
        closing_pull=closing_pull(timeline, repo) if closed else None,
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
        issue = _dict(_dict(event.get("source")).get("issue"))
        other = source_repository(issue)
        same_repo = other is None or same_repository(other, repo)
        if issue.get("pull_request") and same_repo and isinstance(issue.get("number"), int):
            numbers.append(issue["number"])
    return numbers


def source_repository(source: dict[str, Any]) -> str | None:
    """A referencing issue's repository: ``repository.full_name``, else its API URL's tail."""
    name = _dict(source.get("repository")).get("full_name")
    if isinstance(name, str):
        return name
    url = source.get("repository_url")
    if isinstance(url, str) and "/repos/" in url:
        return url.rsplit("/repos/", 1)[1].strip("/")
    return None


def same_repository(a: str, b: str) -> bool:
    """Whether two ``owner/name`` spell one repository: GitHub ignores their case."""
    return a.casefold() == b.casefold()


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


def _dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (upstream JSON is untrusted)."""
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []
