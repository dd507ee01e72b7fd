"""The pull requests opened for a watch, as last seen: the ``pull_requests`` table.

One row per watch and pull request number, replaced whole on every upsert; its state
is one of :data:`PULL_REQUEST_STATES` (docs/architecture.md, «State»).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy import select

from watcher.state.db import Database, upsert
from watcher.state.tables import PullRequestRow

PULL_REQUEST_STATES = frozenset({"open", "closed", "merged"})


@dataclass(frozen=True)
class PullRequestRecord:
    """A pull request opened for a watch, as last seen; ``state`` is open/closed/merged."""

    watch_id: str
    number: int
    repo: str
    target_tag: str
    head_branch: str
    head_sha: str | None
    state: str
    url: str
    created_at: datetime
    updated_at: datetime


_PULL_FIELDS = tuple(field.name for field in fields(PullRequestRecord))


class PullRequestStore(Database):
    """The ``pull_requests`` table."""

    def upsert_pull_request(self, pull: PullRequestRecord) -> None:
        """Store ``pull``, replacing the stored record of the same watch and number."""
        if pull.state not in PULL_REQUEST_STATES:
            raise ValueError(
                f"pull request state must be one of {sorted(PULL_REQUEST_STATES)}, "
                f"not {pull.state!r}"
            )
        with self._transaction(write=True) as session:
            upsert(session, PullRequestRow, asdict(pull))

    def pull_requests(self, watch_id: str) -> list[PullRequestRecord]:
        """The stored pull requests of ``watch_id``, newest (highest number) first."""
        stmt = (
            select(PullRequestRow)
            .where(PullRequestRow.watch_id == watch_id)
            .order_by(PullRequestRow.number.desc())
        )
        with self._transaction() as session:
            return [
                PullRequestRecord(**{name: getattr(row, name) for name in _PULL_FIELDS})
                for row in session.scalars(stmt)
            ]
