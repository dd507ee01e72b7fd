"""The one pull request of each chart, as watcher last left it: the ``pull_requests`` table.

One row per chart key (repository, path and group: see
:func:`watcher.actions.grouping.chart_key`), replaced whole on every write. It holds what
the next cycle needs to know, without asking GitHub, whether the pull request is still
right: its number and branch, the watches and targets it carries, and hashes of the
files and body last written (docs/architecture.md, «State»).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from sqlalchemy import delete

from watcher.state.db import Database, upsert
from watcher.state.tables import PullRequestRow

PULL_REQUEST_STATES = frozenset({"open", "closed", "merged"})


@dataclass(frozen=True)
class PullRequestRecord:
    """A chart's pull request as last left: ``members`` maps watch id -> target tag."""

    chart: str
    repo: str
    number: int
    url: str
    branch: str
    head_sha: str | None
    state: str
    members: dict[str, str] = field(hash=False)
    content: str
    body: str
    updated_at: datetime


_PULL_FIELDS = tuple(f.name for f in fields(PullRequestRecord))


class PullRequestStore(Database):
    """The ``pull_requests`` table."""

    def put_pull_request(self, pull: PullRequestRecord) -> None:
        """Store ``pull`` as its chart's pull request, replacing the one stored before."""
        if pull.state not in PULL_REQUEST_STATES:
            raise ValueError(
                f"pull request state must be one of {sorted(PULL_REQUEST_STATES)}, "
                f"not {pull.state!r}"
            )
        with self._transaction(write=True) as session:
            upsert(session, PullRequestRow, asdict(pull))

    def pull_request(self, chart: str) -> PullRequestRecord | None:
        """The stored pull request of ``chart``, if any."""
        with self._transaction() as session:
            row = session.get(PullRequestRow, chart)
            if row is None:
                return None
            values = {name: getattr(row, name) for name in _PULL_FIELDS}
            return PullRequestRecord(**values | {"members": dict(row.members)})

    def forget_pull_request(self, chart: str) -> None:
        """Forget ``chart``'s pull request (it was closed or merged: nothing left to track)."""
        with self._transaction(write=True) as session:
            session.execute(delete(PullRequestRow).where(PullRequestRow.chart == chart))
