"""Build synthetic upstream histories: real git commits and tags, plus GitHub releases.

A :class:`HistoryBuilder` writes into the git repository of one stand-in repository
(pinned identity and dates, so SHAs are reproducible) and registers releases in the
stand-in the way GitHub would show them: a release's ``created_at`` is its commit's
date, a draft has no tag until it is published, and edits bump ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tests.standin.github_state import GitHubState, ReleaseState, RepoState
from tests.standin.gitrepo import GitRepo


def at(stamp: str) -> datetime:
    """Parse an ISO-8601 timestamp such as ``2026-01-28T12:00:00Z``."""
    return datetime.fromisoformat(stamp)


class HistoryBuilder:
    """Writes history into one repository of a :class:`GitHubState` (created if missing)."""

    def __init__(
        self,
        github: GitHubState,
        full_name: str,
        default_branch: str = "main",
        description: str = "",
    ) -> None:
        """Use repository ``full_name``, creating it (with an empty git repo) if needed."""
        owner, name = full_name.split("/")
        self.github = github
        self.repo: RepoState = github.find_repo(owner, name) or github.add_repo(
            full_name, default_branch=default_branch, description=description
        )

    @property
    def git(self) -> GitRepo:
        """The repository's git wrapper."""
        return self.repo.git

    def commit(
        self,
        when: str,
        message: str,
        files: Mapping[str, str | bytes | None],
        branch: str | None = None,
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch`` (default branch if omitted)."""
        return self.git.commit(files, message, at(when), branch or self.repo.default_branch)

    def branch(self, name: str, start: str) -> None:
        """Create branch ``name`` at ``start`` (tag, branch or SHA)."""
        self.git.create_branch(name, start)

    def tag(self, name: str, when: str, ref: str | None = None, message: str | None = None) -> str:
        """Tag ``ref`` (default branch head if omitted); annotated when ``message`` is set.

        Returns the tagged commit's SHA.
        """
        target = ref or self.repo.default_branch
        sha = self.git.ref_sha(f"refs/heads/{target}") or self.git.resolve(target)
        if sha is None:
            raise ValueError(f"{self.repo.full_name} has no ref {target!r}")
        self.git.tag(name, sha, at(when), message)
        return sha

    def release(
        self,
        tag: str,
        when: str,
        name: str | None = None,
        body: str = "",
        prerelease: bool = False,
        draft: bool = False,
        ref: str | None = None,
        annotated: bool = True,
    ) -> ReleaseState:
        """Tag (unless a draft, or already tagged) and register a release published at ``when``.

        ``created_at`` is the tagged commit's date, as on GitHub; a draft's is ``when``.
        """
        full_name = self.repo.full_name
        if draft:
            return self.github.add_release(
                full_name,
                tag,
                name,
                body,
                draft=True,
                prerelease=prerelease,
                created_at=at(when),
                target_commitish=ref or self.repo.default_branch,
            )
        sha = self._tagged(tag, when, ref, f"Release {tag}" if annotated else None)
        return self.github.add_release(
            full_name,
            tag,
            name,
            body,
            prerelease=prerelease,
            created_at=self.git.commit_date(sha),
            published_at=at(when),
            target_commitish=ref or self.repo.default_branch,
        )

    def publish(self, tag: str, when: str, ref: str | None = None) -> ReleaseState:
        """Publish a draft: create its tag now, then flip ``draft`` (GitHub's order)."""
        sha = self._tagged(tag, when, ref, f"Release {tag}")
        return self.github.edit_release(
            self.repo.full_name, tag, at(when), draft=False, created_at=self.git.commit_date(sha)
        )

    def _tagged(self, tag: str, when: str, ref: str | None, message: str | None) -> str:
        """The commit ``tag`` points at, creating the tag first when it does not exist."""
        if self.git.ref_sha(f"refs/tags/{tag}") is None:
            return self.tag(tag, when, ref, message)
        sha = self.git.resolve(f"refs/tags/{tag}")
        assert sha is not None
        return sha

    def edit(
        self,
        tag: str,
        when: str,
        name: str | None = None,
        body: str | None = None,
        prerelease: bool | None = None,
    ) -> ReleaseState:
        """Edit a published release later (e.g. flip ``prerelease``)."""
        return self.github.edit_release(
            self.repo.full_name, tag, at(when), name=name, body=body, prerelease=prerelease
        )
