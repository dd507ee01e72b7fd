"""Load a real upstream's git history (a local clone or mirror) into the stand-in.

This replays *real* history offline: tags, commits and tarballs are the upstream's own,
so SHAs and every feature scan are real. What a git clone does not carry is supplied
and said so:

- a release per version tag (``v`` + a PEP 440 version, e.g. ``v0.29.0-beta.1``),
  prerelease when the version is one, published at the tag's date: the tagger date of
  an annotated tag, else the commit date (GitHub's ``published_at`` is not in git;
  GoReleaser-style projects publish minutes after pushing the tag);
- the images of every release pushed to the given registries (the backtest takes
  image times as release times anyway, as the OCI API has no push time);
- issues as given (:class:`KnownIssue`), e.g. from GitHub pages read earlier, and
  merged pull requests (:class:`KnownPull`) with their merge commit from the clone.

The source repository is never written to: the stand-in gets a ``--shared`` bare clone
of it (objects borrowed, so it costs no copy).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from tests.standin.github_state import CrossRef, RepoState
from tests.standin.gitrepo import GitRepo
from tests.standin.server import StandIn

_VERSION_TAG = re.compile(r"^v(?P<version>\d+\.\d+\.\d+\S*)$")


@dataclass(frozen=True)
class KnownIssue:
    """An issue's state as known from elsewhere, with the pull requests that mention it."""

    number: int
    title: str
    created_at: datetime
    labels: tuple[str, ...] = ()
    closed_at: datetime | None = None
    state_reason: str = "completed"
    mentioned_by: tuple[tuple[datetime, CrossRef], ...] = field(default=())


@dataclass(frozen=True)
class KnownPull:
    """A merged pull request as known from elsewhere; its merge commit is in the clone."""

    number: int
    title: str
    merge_commit_sha: str
    merged_at: datetime


def release_tags(git: GitRepo) -> list[tuple[str, Version, datetime]]:
    """The version tags of ``git`` with their version and date, oldest first."""
    found = []
    for info in git.tags():
        match = _VERSION_TAG.match(info.name)
        if match is None:
            continue
        try:
            version = Version(match["version"])
        except InvalidVersion:
            continue  # e.g. ``v0.24.0-docker-ko-test1``: a tag, not a release
        tag = git.tag_object(info.object_sha) if info.annotated else None
        when = datetime.fromisoformat(tag.tagger_date) if tag else git.commit_date(info.commit_sha)
        found.append((info.name, version, when))
    return sorted(found, key=lambda item: item[2])


def load_mirror(
    standin: StandIn,
    full_name: str,
    source: Path,
    images: Sequence[tuple[str, str]] = (),
    issues: Sequence[KnownIssue] = (),
    up_to: str | None = None,
    pulls: Sequence[KnownPull] = (),
) -> RepoState:
    """Register ``full_name`` in the stand-in with the history of the git repo at ``source``.

    ``images`` are (registry host, repository) pairs that get every release's tag, with
    and without the ``v``. ``up_to`` (a tag) leaves out the releases published after it,
    to see what the watch said on that day. Returns the stand-in repository.
    """
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such git repository")
    owner, name = full_name.split("/")
    target = standin.github.workdir / "git" / owner / f"{name}.git"
    target.parent.mkdir(parents=True, exist_ok=True)
    GitRepo(target.parent).git("clone", "-q", "--bare", "--shared", str(source), str(target))
    git = GitRepo(target)
    branch = git.git("symbolic-ref", "--short", "HEAD").decode().strip()
    repo = standin.github.add_repo(full_name, git=git, default_branch=branch)
    tags = release_tags(git)
    if up_to is not None:
        last = next((when for tag, _, when in tags if tag == up_to), None)
        if last is None:
            raise ValueError(f"{source}: no version tag {up_to!r}")
        tags = [t for t in tags if t[2] <= last]
    for tag, version, when in tags:
        standin.github.add_release(
            full_name, tag, prerelease=version.is_prerelease, published_at=when
        )
        for host, image in images:
            standin.registry.push(host, image, tag)
            standin.registry.push(host, image, tag.removeprefix("v"))
    for issue in issues:
        _add_issue(standin, full_name, issue)
    for pull in pulls:
        if git.object_type(pull.merge_commit_sha) != "commit":
            # A clone without it (shallow, or another history): GitHub would not know the
            # pull request's commit either, so the replay goes on without the pull request.
            print(
                f"note: {source} has no commit {pull.merge_commit_sha[:12]} "
                f"(#{pull.number}'s merge): replayed without that pull request",
                file=sys.stderr,
            )
            continue
        standin.github.record_merged_pull(
            full_name, pull.number, pull.title, pull.merge_commit_sha, pull.merged_at
        )
    return repo


def _add_issue(standin: StandIn, full_name: str, issue: KnownIssue) -> None:
    github = standin.github
    github.add_issue(
        full_name, issue.number, issue.title, labels=issue.labels, created_at=issue.created_at
    )
    for when, source in issue.mentioned_by:
        github.add_event(full_name, issue.number, "cross-referenced", when, source=source)
    if issue.closed_at is not None:
        github.close_issue(full_name, issue.number, issue.closed_at, issue.state_reason)
