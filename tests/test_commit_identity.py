"""Commits protected branches accept: GitHub-signed for an App, or a configured identity.

With an App installation and no `[watch.chart.commit].author`, watcher sends no author
or committer, so GitHub signs the commit (the stand-in models `verification.verified`
for exactly those commits). With an author, the commit carries it, its committer, an
optional `Signed-off-by` trailer and the message template, dated at the release so a
re-created commit is the same commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.prs import BRANCH, CHART, api, install_app, pulls
from tests.standin import schema
from tests.standin.chart import CHART_TOKEN
from tests.standin.github_shapes import API_VERSIONS
from tests.standin.headscale import load_headscale
from watcher.actions.commit_identity import AUTHOR, commit_identity
from watcher.config.model import CommitConfig, parse_config
from watcher.core.errors import ConfigError

SIDECAR = "\n# The tailscale client sidecar must be able"


def commit_settings(run: WatcherRun, lines: str) -> None:
    run.edits[SIDECAR] = f"\n[watch.chart.commit]\n{lines}\n{SIDECAR}"


def head_commit(run: WatcherRun) -> dict[str, Any]:
    ref = api(run.standin, f"/repos/{CHART}/git/ref/heads/{BRANCH}")
    commit = api(run.standin, f"/repos/{CHART}/git/commits/{ref['object']['sha']}")
    assert isinstance(commit, dict)
    return commit


def published_at(run: WatcherRun, tag: str) -> str:
    rel = api(run.standin, f"/repos/juanfont/headscale/releases/tags/{tag}")
    return str(rel["published_at"])


def test_an_app_commit_names_no_one_so_github_signs_it(watcher: WatcherRun, tmp_path: Path) -> None:
    watcher.env = install_app(watcher.standin, tmp_path, slug="chart-bot")
    watcher.github = {"write_interval_seconds": "0"}
    load_headscale(watcher.standin, "ready")
    result = watcher("run", "--once")
    assert result.exit_code == 0, result.output
    commit = head_commit(watcher)
    assert commit["verification"]["verified"] is True
    assert commit["verification"]["reason"] == "valid"
    assert commit["author"]["name"] == "chart-bot[bot]"
    assert commit["committer"]["name"] == "GitHub"
    # The verified answer has GitHub's shape, in both API versions (git data and REST).
    sha = commit["sha"]
    for version in API_VERSIONS:
        for path, name in ((f"git/commits/{sha}", "GitCommit"), (f"commits/{sha}", "Commit")):
            reply = httpx.get(
                f"{watcher.standin.api_url}/repos/{CHART}/{path}",
                headers={"Authorization": f"Bearer {CHART_TOKEN}", "X-GitHub-Api-Version": version},
            )
            schema.check(schema.model(version, name), reply.content)
    (post,) = watcher.standin.log.where(method="POST", path=r"/git/commits$")
    assert post.status == 201
    # The next run finds the branch right by its trailer: no new commit, nothing written.
    watcher.standin.log.clear()
    assert watcher("run", "--once").exit_code == 0
    writes = [r.path for r in watcher.standin.log.records() if r.is_write]
    assert [p for p in writes if "/repos/" in p] == []  # (a new App token is no repo write)


def test_a_token_commit_is_unsigned_watcher_dated_at_the_release(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    commit = head_commit(acting)
    assert commit["verification"]["verified"] is False
    assert (commit["author"]["name"], commit["author"]["email"]) == AUTHOR
    assert commit["author"]["date"] == published_at(acting, "v0.29.0")
    assert commit["committer"] == commit["author"]


def test_a_configured_author_committer_signoff_and_message(acting: WatcherRun) -> None:
    commit_settings(
        acting,
        'author = "Chart Bot <bot@example.org>"\n'
        'committer = "Release Team <releases@example.org>"\n'
        "signoff = true\n"
        'message = "chore(deps): bump {name} to {tag}"',
    )
    load_headscale(acting.standin, "ready")
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    commit = head_commit(acting)
    when = published_at(acting, "v0.29.0")
    assert commit["author"] == {"name": "Chart Bot", "email": "bot@example.org", "date": when}
    assert commit["committer"] == {
        "name": "Release Team",
        "email": "releases@example.org",
        "date": when,
    }
    lines = commit["message"].splitlines()
    assert lines[0] == "chore(deps): bump headscale to v0.29.0"
    assert lines[-1] == "Signed-off-by: Chart Bot <bot@example.org>"
    assert any(line.startswith("Watcher-Content: ") for line in lines)
    assert commit["verification"]["verified"] is False
    (pr,) = pulls(acting.standin)
    assert pr["title"] == "headscale: bump to v0.29.0 (peer relay support landed)"


def test_a_lost_commit_answer_is_recreated_as_the_same_commit(acting: WatcherRun) -> None:
    commit_settings(acting, 'author = "Chart Bot <bot@example.org>"\nsignoff = true')
    load_headscale(acting.standin, "ready")
    acting.standin.faults.add(method="POST", path=r"/git/commits$", status=502, applied=True)
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    posts = acting.standin.log.where(method="POST", path=r"/git/commits$")
    assert len(posts) == 2  # the answer was lost once, the commit asked again
    commit = head_commit(acting)
    git = acting.standin.github.repo(CHART).git
    # Both requests wrote the same object: one commit exists with that message.
    shas = git.git("rev-list", "--all").decode().split()
    assert commit["sha"] in shas
    assert commit["message"].endswith("Signed-off-by: Chart Bot <bot@example.org>")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("signoff = true", "signoff needs author"),
        ('committer = "A <a@b.c>"', "committer needs author too"),
        ('author = "nobody"', 'is not "Name <email>"'),
        ('author = "A <a@b.c>"\nmessage = "{nope}"', "unknown field {nope}"),
        ('author = "A <a@b.c>"\nmessage = ""', "message is one non-empty line"),
    ],
)
def test_commit_settings_are_checked(lines: str, message: str) -> None:
    text = (
        '[[watch]]\nid = "w"\nrepo = "o/r"\n[watch.feature]\nmarker = "abc"\n'
        f'[watch.chart]\nrepo = "c/h"\n[watch.chart.commit]\n{lines}\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "w.toml")
    assert caught.value.message.startswith("w.toml: watch[0].chart.commit")
    assert message in caught.value.message


# -- randomized: who a commit names -----------------------------------------------------

names = st.from_regex(r"[A-Za-z]([A-Za-z .'-]{0,10}[A-Za-z])?", fullmatch=True)
emails = st.from_regex(r"[a-z0-9.]{1,8}@[a-z]{1,8}\.org", fullmatch=True)
people = st.builds(lambda n, e: f"{n} <{e}>", names, emails)


@given(
    author=st.one_of(st.none(), people),
    committer=st.one_of(st.none(), people),
    signoff=st.booleans(),
    app=st.booleans(),
    when=st.datetimes(timezones=st.just(UTC)),
)
def test_the_identity_follows_the_settings(
    author: str | None, committer: str | None, signoff: bool, app: bool, when: datetime
) -> None:
    committer = committer if author else None
    signoff = signoff and author is not None
    settings = CommitConfig(author=author, committer=committer, signoff=signoff)
    who = commit_identity(settings, when, app=app)
    if author is None and app:
        # GitHub names and signs it; nothing of ours to send, no date to repeat.
        assert (who.author, who.committer, who.date, who.signoff) == (None, None, None, "")
        return
    # Everything else is dated at the release: the same input gives the same commit.
    assert who.date == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert who == commit_identity(settings, when, app=app)
    expected = AUTHOR if author is None else tuple(author[:-1].split(" <"))
    assert who.author == expected
    assert who.committer == (tuple(committer[:-1].split(" <")) if committer else expected)
    assert who.signoff == (f"Signed-off-by: {author}\n" if signoff else "")
