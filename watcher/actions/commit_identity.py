"""Who a bump commit names, and the sign-off it ends with: ``[watch.chart.commit]`` applied.

Pure. Three cases (see :class:`watcher.config.model.CommitConfig`):

- no ``author``, a GitHub App installation writes: no author and no committer are sent,
  so GitHub fills both (the App's bot, and GitHub) with the current time and signs the
  commit, which branch protection's "require signed commits" accepts
  (https://docs.github.com/en/authentication/managing-commit-signature-verification/about-commit-signature-verification#signature-verification-for-bots).
  The price: re-creating the commit after a crash (or after a lost answer) gives a new
  SHA, since the time is GitHub's. Nothing duplicates on the branch: the branch is moved
  to whichever commit was created last, and its ``Watcher-Content`` trailer tells the
  next run the branch is already right; an earlier twin stays unreferenced.
- no ``author``, a token writes: the fixed ``watcher`` identity, unsigned, dated at the
  release's publication, so the same input gives the same SHA (idempotent re-creation).
- an ``author`` (and optional ``committer``): those, dated at the release's publication
  too, so re-creation still yields the same SHA; GitHub does not sign them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from watcher.config.model import CommitConfig

AUTHOR = ("watcher", "watcher@users.noreply.github.com")
_PERSON = re.compile(r"^(?P<name>.*\S)\s*<(?P<email>[^<>]+)>$")
# The date of a release that has none (a draft never is a target; this is belt and braces).
_NO_DATE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CommitIdentity:
    """The author and committer to send (None: let GitHub set them), and the sign-off."""

    author: tuple[str, str] | None
    committer: tuple[str, str] | None
    date: str | None
    signoff: str = ""  # "Signed-off-by: Name <email>\n" or empty


def commit_identity(
    settings: CommitConfig, published_at: datetime | None, *, app: bool
) -> CommitIdentity:
    """The identity of a bump commit for a release published at ``published_at``."""
    if settings.author is None:
        if app:
            return CommitIdentity(None, None, None)
        return CommitIdentity(AUTHOR, AUTHOR, _date(published_at))
    author = _person(settings.author)
    committer = _person(settings.committer) if settings.committer else author
    signoff = f"Signed-off-by: {author[0]} <{author[1]}>\n" if settings.signoff else ""
    return CommitIdentity(author, committer, _date(published_at), signoff)


def _person(text: str) -> tuple[str, str]:
    match = _PERSON.match(text)
    if match is None:  # the config already refused it; this keeps the function total
        raise ValueError(f"{text!r} is not 'Name <email>'")
    return match["name"], match["email"]


def _date(published_at: datetime | None) -> str:
    return (published_at or _NO_DATE).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
