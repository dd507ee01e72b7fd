"""Exactly once in effect: a write GitHub applied but whose answer was lost is not repeated.

For every write `watcher run --once` sends, the stand-in applies the write and then loses
the answer (a proxy's 502, or a dropped connection). The run must look up what it wrote
(comment by marker, dashboard by marker and author, pull request by head branch, ref by
name, merge by trailer, edits by re-reading) instead of sending the write again, finish in
the same run, and leave exactly one pull request, one dashboard and each comment once.
Trees and commits are addressed by their content: repeating one creates nothing new, so
for them only the outcome is checked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.conftest import WatcherRun
from tests.prs import BRANCH, CHART, api, dashboard_comments, expected_values, file_at, pulls
from tests.standin.headscale import load_headscale

LOSSES = {"502": {"status": 502}, "dropped": {"drop_connection": True}}
PREPARED = "feature/peer-relay"


@dataclass(frozen=True)
class Step:
    """One write: the request that loses its answer, and the run it happens in."""

    method: str
    path: str
    stage: str = "ready"  # the headscale stage of the faulted run
    edits: dict[str, str] = field(default_factory=dict)
    repeatable: bool = False  # content-addressed: a repeat is allowed, creates nothing
    sends: int = 1  # how many of these writes the run makes (two transition comments)


STEPS = {
    "create tree": Step("POST", r"/git/trees$", repeatable=True),
    "create commit": Step("POST", r"/git/commits$", repeatable=True),
    "create branch": Step("POST", r"/git/refs$"),
    "open pull request": Step("POST", r"/pulls$"),
    "create dashboard": Step("POST", r"/issues$"),
    "post comment": Step("POST", r"/issues/\d+/comments$", sends=2),
    "move branch": Step("PATCH", r"/git/refs/heads/", stage="patch"),
    "update pull request": Step("PATCH", r"/pulls/\d+$", stage="patch"),
    "update dashboard": Step("PATCH", r"/issues/\d+$", stage="patch"),
    "merge prepared branch": Step(
        "POST",
        r"/merges$",
        edits={'# prepared_branch = "feature/peer-relay"': f'prepared_branch = "{PREPARED}"'},
    ),
    "add labels": Step("POST", r"/issues/\d+/labels$", edits={"labels = []": 'labels = ["bump"]'}),
    "add assignees": Step(
        "POST", r"/issues/\d+/assignees$", edits={"assignees = []": 'assignees = ["maintainer"]'}
    ),
    "request reviewers": Step(
        "POST",
        r"/pulls/\d+/requested_reviewers$",
        edits={"reviewers = []": 'reviewers = ["maintainer"]'},
    ),
}


def assert_converged(acting: WatcherRun, tag: str) -> None:
    """One open PR bumping to ``tag``, one dashboard, no comment body twice."""
    (pr,) = pulls(acting.standin)
    assert pr["state"] == "open" and tag in pr["title"]
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values(tag)
    issues = api(acting.standin, f"/repos/{CHART}/issues?state=all")
    dashboards = [i for i in issues if "<!-- watcher:dashboard -->" in (i["body"] or "")]
    assert len(dashboards) == 1, dashboards
    comments = dashboard_comments(acting.standin)
    assert len(comments) == len(set(comments)), comments
    assert any("**proposed**" in c for c in comments)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("name", sorted(STEPS))
def test_lost_answer_is_looked_up_not_repeated(acting: WatcherRun, name: str, loss: str) -> None:
    step = STEPS[name]
    acting.edits = dict(step.edits)
    standin = acting.standin
    if name == "merge prepared branch":
        standin.github.repo(CHART).git.create_branch(PREPARED, "main")
        standin.github.push_commit(CHART, PREPARED, {"headscale/templates/x.yaml": "kind: X\n"})
    load_headscale(standin, "ready")
    if step.stage == "patch":
        assert acting("run", "--once").exit_code == 0
        load_headscale(standin, "patch")
    standin.log.clear()
    rule = standin.faults.add(method=step.method, path=step.path, applied=True, **LOSSES[loss])  # type: ignore[arg-type]
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    assert rule.hits == 1, f"{name}: the write was never sent"
    sent = Counter(r.path for r in standin.log.where(method=step.method, path=step.path))
    faulted = next(r.path for r in standin.log.records() if r.fault)
    if not step.repeatable:
        assert sent[faulted] == step.sends, f"{name}: sent again after its lost answer"
    assert_converged(acting, "v0.29.1" if step.stage == "patch" else "v0.29.0")
    # Nothing is left half-done: the next run writes nothing.
    standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert [f"{r.method} {r.path}" for r in standin.log.records() if r.is_write] == []


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_lost_answer_on_the_human_push_comment(acting: WatcherRun, loss: str) -> None:
    """Someone pushed to the bump branch: watcher says so once on the PR, even when the
    answer to that comment is lost."""
    standin = acting.standin
    load_headscale(standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(standin)
    standin.github.push_commit(CHART, BRANCH, {"headscale/NOTES.txt": "by hand\n"})
    load_headscale(standin, "patch")
    path = rf"/issues/{pr['number']}/comments$"
    rule = standin.faults.add(method="POST", path=path, applied=True, **LOSSES[loss])  # type: ignore[arg-type]
    assert acting("run", "--once").exit_code == 0
    assert rule.hits == 1
    assert len(standin.log.where(method="POST", path=path)) == 1
    comments = api(standin, f"/repos/{CHART}/issues/{pr['number']}/comments")
    assert len([c for c in comments if "watcher:human-push" in c["body"]]) == 1
    standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert [r for r in standin.log.records() if r.is_write and "comments" in r.path] == []
