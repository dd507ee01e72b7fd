"""The `pulls` signal (commit-graph evidence) end to end on the stand-in's real git history.

One upstream holds every shape of pull request: merged with a merge commit, squashed,
rebased, merged after the release candidate, merged into a release branch, open (its
``merge_commit_sha`` is GitHub's trial merge, on no branch), closed unmerged. The answers
are the real git answers, and a randomized test holds that the compare-based answer
equals ``git merge-base --is-ancestor`` on generated commit graphs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import prs
from tests.conftest import WatcherRun
from tests.standin.gitrepo import Identity
from tests.standin.headscale import load_headscale
from tests.standin.history import HistoryBuilder, at
from tests.standin.server import StandIn
from watcher.config.model import default_config_text, parse_config
from watcher.core.errors import ConfigError
from watcher.net.credentials import Credentials
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient, HttpSettings
from watcher.sources import pulls
from watcher.state.store import Store

REPO = "up/proj"
TOKEN = "tok-commit-graph"


@dataclass(frozen=True)
class Shapes:
    """The pull request number of each shape."""

    merge: int
    squash: int
    rebase: int
    late: int
    backport: int
    open: int
    closed: int


def _pull(b: HistoryBuilder, name: str, base: str, day: str, commits: int = 1) -> int:
    b.branch(name, base)
    for n in range(commits):
        b.commit(f"{day}T0{n}:00:00Z", f"{name} part {n}", {f"{name}-{n}.txt": name}, branch=name)
    return b.github.open_pull(REPO, name, base, f"Add {name}").number


def load_shapes(standin: StandIn) -> Shapes:
    """v1.0.0, v1.0.1 (release branch), v1.1.0-rc.1 and v1.1.0, and one PR per shape."""
    gh = standin.github
    b = HistoryBuilder(gh, REPO)
    b.commit("2025-01-01T00:00:00Z", "initial", {"README.md": "proj\n"})
    b.release("v1.0.0", "2025-01-02T00:00:00Z")
    b.branch("release-1.0", "v1.0.0")

    def merged(name: str, base: str, day: str, method: str, commits: int = 1) -> int:
        number = _pull(b, name, base, day, commits)
        sha = gh.merge_pull(REPO, number, method=method, when=at(f"{day}T12:00:00Z"))
        assert sha is not None
        return number

    merge = merged("feat-merge", "main", "2025-02-01", "merge")
    squash = merged("feat-squash", "main", "2025-02-02", "squash")
    rebase = merged("feat-rebase", "main", "2025-02-03", "rebase", commits=3)
    backport = merged("fix-backport", "release-1.0", "2025-02-04", "merge")
    b.commit("2025-02-05T00:00:00Z", "1.0.1", {"VERSION": "1.0.1\n"}, branch="release-1.0")
    b.release("v1.0.1", "2025-02-05T12:00:00Z", ref="release-1.0")
    b.release("v1.1.0-rc.1", "2025-02-10T00:00:00Z", prerelease=True)
    late = merged("feat-late", "main", "2025-02-12", "squash")
    b.release("v1.1.0", "2025-02-20T00:00:00Z")
    still_open = _pull(b, "feat-open", "main", "2025-02-21")
    closed = _pull(b, "feat-closed", "main", "2025-02-22")
    gh.close_pull(REPO, closed)
    return Shapes(merge, squash, rebase, late, backport, still_open, closed)


CONFIG = """
[[watch]]
id = "proj"
repo = "up/proj"
required = ["release", "pulls"]

[watch.pulls]
numbers = [{numbers}]
"""


@pytest.fixture
def shapes(watcher: WatcherRun) -> Shapes:
    watcher.token = TOKEN
    watcher.standin.github.add_token(TOKEN)
    return load_shapes(watcher.standin)


def check(watcher: WatcherRun, *numbers: int) -> dict[str, object]:
    watcher.config_text = CONFIG.format(numbers=", ".join(map(str, numbers)))
    result = watcher("check", "--json")
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)["watches"][0]
    assert isinstance(doc, dict)
    return doc


def pulls_summary(doc: dict[str, object]) -> str:
    signals = doc["signals"]
    assert isinstance(signals, list)
    return next(str(s["summary"]) for s in signals if s["name"] == "pulls")


@pytest.mark.parametrize("shape", ["merge", "squash", "rebase"])
def test_a_merged_pull_request_is_in_the_release_and_first_in_the_candidate(
    watcher: WatcherRun, shapes: Shapes, shape: str
) -> None:
    number = getattr(shapes, shape)
    doc = check(watcher, number)
    assert doc["state"] == "ready"
    assert doc["target"]["tag"] == "v1.1.0"  # type: ignore[index]
    day = {"merge": "01", "squash": "02", "rebase": "03"}[shape]
    assert pulls_summary(doc) == (
        f"#{number}, merged 2025-02-{day}, is in v1.1.0; first in v1.1.0-rc.1"
    )


def test_a_pull_request_merged_after_the_candidate_is_first_in_the_release(
    watcher: WatcherRun, shapes: Shapes
) -> None:
    doc = check(watcher, shapes.late)
    assert pulls_summary(doc) == f"#{shapes.late}, merged 2025-02-12, is in v1.1.0; first in v1.1.0"


def test_a_pull_request_merged_into_a_release_branch_is_not_in_the_main_line(
    watcher: WatcherRun, shapes: Shapes
) -> None:
    doc = check(watcher, shapes.backport)
    assert doc["state"] == "waiting"
    assert pulls_summary(doc) == (
        f"#{shapes.backport}, merged 2025-02-04 into release-1.0, is not in v1.1.0"
    )


@pytest.mark.parametrize(("shape", "why"), [("open", "open"), ("closed", "closed unmerged")])
def test_a_pull_request_not_merged_never_counts(
    watcher: WatcherRun, shapes: Shapes, shape: str, why: str
) -> None:
    number = getattr(shapes, shape)
    doc = check(watcher, number)
    assert doc["state"] == "waiting"
    assert pulls_summary(doc) == f"#{number} is not merged ({why})"
    if shape == "open":
        # GitHub (and the stand-in) fill merge_commit_sha for an open PR: its trial merge.
        served = httpx.get(
            f"{watcher.standin.api_url}/repos/{REPO}/pulls/{number}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        assert served["merged"] is False and len(served["merge_commit_sha"]) == 40
        compares = [r for r in watcher.standin.log.records() if "/compare/" in r.path]
        assert compares == []


def test_every_pull_request_must_be_in_the_release(watcher: WatcherRun, shapes: Shapes) -> None:
    doc = check(watcher, shapes.merge, shapes.late, shapes.backport)
    assert doc["state"] == "waiting"
    parts = pulls_summary(doc).split(" | ")
    assert parts[0].endswith("is in v1.1.0; first in v1.1.0-rc.1")
    assert parts[1].endswith("is in v1.1.0; first in v1.1.0")
    assert parts[2].endswith("is not in v1.1.0")


def test_backtest_of_a_watch_resting_on_its_pull_request(
    watcher: WatcherRun, shapes: Shapes
) -> None:
    watcher.config_text = CONFIG.format(numbers=shapes.squash)
    result = watcher("backtest", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["shipped"]["tag"] == "v1.1.0"
    graph = doc["commit_graph"]
    assert graph["status"] == "holds"
    assert graph["summary"] == (
        f"#{shapes.squash}, merged 2025-02-02, is in v1.1.0; first in v1.1.0-rc.1"
    )
    states = {r["event"]: r["state"] for r in doc["rows"]}
    assert states["v1.0.1 published"] == "waiting"  # the release branch lacks it
    text = watcher("backtest").stdout
    assert f"commit graph: {graph['summary']}\n" in text


def test_answers_are_kept_for_good_a_second_check_asks_nothing(
    watcher: WatcherRun, shapes: Shapes
) -> None:
    first = check(watcher, shapes.merge, shapes.rebase)
    asked = [
        r.path
        for r in watcher.standin.log.records()
        if "/pulls/" in r.path or "/compare/" in r.path
    ]
    assert any("/compare/" in p for p in asked) and any("/pulls/" in p for p in asked)
    watcher.standin.log.clear()
    second = check(watcher, shapes.merge, shapes.rebase)
    assert pulls_summary(second) == pulls_summary(first)
    again = [r.path for r in watcher.standin.log.records()]
    assert not [p for p in again if "/pulls/" in p or "/compare/" in p], again


def test_the_pull_request_that_closed_an_issue_counts(watcher: WatcherRun, shapes: Shapes) -> None:
    gh = watcher.standin.github
    from tests.standin.github_state import CrossRef

    gh.add_issue(REPO, 900, "Please add merge", created_at=at("2025-01-05T00:00:00Z"))
    source = CrossRef(REPO, shapes.merge, "Add feat-merge", True, "closed")
    gh.add_event(REPO, 900, "cross-referenced", at("2025-01-20T00:00:00Z"), source=source)
    gh.close_issue(REPO, 900, at("2025-02-01T12:00:00Z"), "completed")
    watcher.config_text = CONFIG.format(numbers="") + "\n[watch.issues]\nnumbers = [900]\n"
    result = watcher("check", "--json")
    doc = json.loads(result.stdout)["watches"][0]
    assert doc["state"] == "ready", result.output
    assert pulls_summary(doc).startswith(f"#{shapes.merge}, merged 2025-02-01, is in v1.1.0")


# -- configuration rules ----------------------------------------------------------------

HEAD = '[[watch]]\nid = "w"\nrepo = "o/r"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD, "has no [watch.feature]: set one"),
        (
            HEAD + 'required = ["release", "feature", "pulls"]\n[watch.pulls]\nnumbers = [1]\n',
            "required lists 'feature' but there is no [watch.feature]",
        ),
        (HEAD + 'required = ["release", "pulls"]\n', "'pulls' but there is nothing to check"),
        (
            HEAD + 'required = ["release", "pulls"]\n[watch.pulls]\n',
            "'pulls' but there is nothing to check",
        ),
        (HEAD + "[watch.pulls]\nnumbers = [3, 3]\n", "lists #3 more than once"),
        (HEAD + "[watch.pulls]\nnumbers = [0]\n", "greater than 0"),
    ],
)
def test_config_rules_name_what_to_do(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "w.toml")
    assert message in caught.value.message
    assert caught.value.message.startswith("w.toml: watch[0]")


def test_a_watch_without_a_marker_rests_on_its_pull_requests_by_default() -> None:
    watch = parse_config(HEAD + "[watch.pulls]\nnumbers = [7]\n", "w.toml").watch[0]
    assert watch.feature is None
    assert watch.required == ("release", "pulls")
    marked = parse_config(
        HEAD + '[watch.feature]\nmarker = "abc"\n[watch.pulls]\nnumbers = [7]\n', "w.toml"
    ).watch[0]
    assert marked.required == ("release", "feature")  # informational beside a marker


# -- randomized: the compare answer is git's ancestry -------------------------------------


@pytest.fixture
def graph_reader(standin: StandIn, tmp_path: Path) -> Iterator[tuple[StandIn, GitHubReader]]:
    standin.github.add_token(TOKEN, limit=1_000_000)
    HistoryBuilder(standin.github, "gen/graph").commit("2025-01-01T00:00:00Z", "root", {"a": "0"})
    with Store.open(f"sqlite:///{tmp_path / 'graph.db'}") as store:
        http = HttpClient(store, HttpSettings(retries=0, timeout_seconds=5))
        yield standin, GitHubReader(http, standin.api_url, Credentials(token=TOKEN))


# Each new commit names one or two earlier commits as parents, or none (another root).
graphs = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0)),
        st.one_of(st.none(), st.integers(min_value=0)),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(graph=graphs, pairs=st.lists(st.tuples(st.integers(0), st.integers(0)), max_size=6))
def test_compare_answers_git_ancestry_on_generated_graphs(
    graph_reader: tuple[StandIn, GitHubReader],
    graph: list[tuple[int, int | None]],
    pairs: list[tuple[int, int]],
) -> None:
    standin, reader = graph_reader
    git = standin.github.repo("gen/graph").git
    root = git.ref_sha("refs/heads/main")
    assert root is not None
    tree = git.commit_info(root).tree
    commits = [root]
    for index, (first, second) in enumerate(graph):
        # No first parent: a new root, so some pairs share no history (GitHub's 404).
        parents = [commits[first % len(commits)]] if first is not None else []
        if parents and second is not None and commits[second % len(commits)] not in parents:
            parents.append(commits[second % len(commits)])
        who = Identity("gen", "gen@example.com", datetime(2025, 1, 2 + index, tzinfo=UTC))
        # A distinct message per commit and example keeps every SHA new.
        commits.append(git.commit_tree(tree, parents, f"c{index} {graph} {pairs}", who, who))
    kept: dict[str, str] = {}
    cache = pulls.GraphCache(get=kept.get, put=kept.__setitem__)
    for tag_index, sha_index in pairs or [(len(commits) - 1, 0)]:
        tag, sha = commits[tag_index % len(commits)], commits[sha_index % len(commits)]
        answer = pulls.contains(reader, "gen/graph", tag, sha, cache)
        assert answer == git.is_ancestor(sha, tag), (tag, sha)
        # The kept answer is the same, and asking again costs no request.
        before = len(standin.log.records())
        assert pulls.contains(reader, "gen/graph", tag, sha, cache) == answer
        assert len(standin.log.records()) == before


# -- shown where people look: check, the PR body, the dashboard ----------------------------


def test_the_closing_pull_request_is_shown_in_check_the_pr_and_the_dashboard(
    acting: WatcherRun,
) -> None:
    """The built-in watch with [watch.pulls]: #2180 was closed by #2862 (squash-merged)."""
    acting.edits["\n[watch.issues]\n"] = "\n[watch.pulls]\n\n[watch.issues]\n"
    load_headscale(acting.standin, "ready")
    line = "#2862, merged 2025-12-01, is in v0.29.0; first in v0.29.0-beta.1"
    checked = acting("check")
    assert f"  pulls:     [holds] {line}\n" in checked.stdout, checked.output
    assert acting("run", "--once").exit_code == 0
    (pr,) = prs.pulls(acting.standin)
    # Upstream numbers are qualified, so they link upstream, not to the chart's #2862.
    assert f"| pulls | informational | holds | juanfont/headscale{line}<br>" in pr["body"]
    dashboard = [
        i for i in prs.api(acting.standin, f"/repos/{prs.CHART}/issues") if "pull_request" not in i
    ]
    assert f"- pulls: holds: juanfont/headscale{line}" in dashboard[0]["body"]


def test_a_watch_without_a_marker_opens_its_pull_request_on_the_commit_graph(
    acting: WatcherRun,
) -> None:
    """The built-in watch with its [watch.feature] table removed, resting on #2862."""
    text = default_config_text()
    start = text.index("[watch.feature]")
    text = text[:start] + text[text.index("[watch.image]") :]
    text = text.replace(
        'required = ["release", "feature", "image"]', 'required = ["release", "pulls", "image"]'
    )
    acting.config_text = text.replace("\n[watch.issues]\n", "\n[watch.pulls]\n\n[watch.issues]\n")
    load_headscale(acting.standin, "ready")
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    (pr,) = prs.pulls(acting.standin)
    assert pr["title"] == "headscale: bump to v0.29.0 (peer relay support landed)"
    line = "juanfont/headscale#2862, merged 2025-12-01, is in v0.29.0; first in v0.29.0-beta.1"
    assert f"| pulls | **required** | holds | {line}<br>" in pr["body"]
    assert "| feature |" not in pr["body"]
    # No tarball is read: the commit graph alone showed the feature.
    assert not acting.standin.log.where(path=r"/tarball/")
