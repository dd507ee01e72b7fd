"""The database schema of watcher, as typed SQLAlchemy 2 ORM classes.

See docs/architecture.md, «State».

These classes describe the schema; Alembic migrations in ``migrations/`` create it.
A test compares the two, so a column added here without a migration fails the suite.

Only portable column types are used (Text, String(n), Integer/BigInteger, Boolean,
DateTime(timezone=True), LargeBinary, JSON), so that one schema serves SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names make migrations reproducible across databases: without
# them PostgreSQL and SQLite invent different names, and a later ALTER cannot find them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-assigns ids to a column declared exactly INTEGER PRIMARY KEY, so
# the 64-bit type PostgreSQL wants would leave ids NULL there.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back an aware UTC datetime.

    SQLite has no time zone storage and returns naive values, PostgreSQL returns
    values in the session time zone; normalising here keeps every caller's
    comparisons and ISO strings identical on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (a bug in the caller) and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: watcher stores aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to SQLite's naive values; convert PostgreSQL's to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base holding the one ``MetaData`` that migrations are compared with."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class HttpCacheEntry(Base):
    """The validators and body of the last answer per URL, for conditional GETs."""

    __tablename__ = "http_cache"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    # The body is kept so that a 304 can be answered locally with the same content.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # When the server last gave (a 200 or a 404 kept as an answer) or confirmed (a 304)
    # this body: a read may use it unasked while it is fresh, and pruning keeps it.
    stored_at: Mapped[datetime]


class RunRow(Base):
    """One poll (``watcher check`` or a daemon tick) with its request counters."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[int] = mapped_column(Integer, default=0)
    quota_used: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ObservationRow(Base):
    """One signal as gathered in one run: the raw history behind verdicts (prunable)."""

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_watch_id_observed_at", "watch_id", "observed_at"),
        # prune deletes by run, and PostgreSQL checks this foreign key per deleted run.
        Index("ix_observations_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("runs.id"))
    watch_id: Mapped[str] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(32))
    release_tag: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    observed_at: Mapped[datetime]


class VerdictRow(Base):
    """The current verdict of one watch, and the last error beside it.

    ``state`` is NULL while a watch has only ever failed: the row then carries just the
    error, so that ``watcher status`` can show it without inventing a verdict.
    """

    __tablename__ = "verdicts"

    watch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(16))
    target_tag: Mapped[str | None] = mapped_column(String(255))
    # none_as_null: "no target" must be SQL NULL, not the JSON text 'null'.
    target: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    extra: Mapped[dict[str, str]] = mapped_column(JSON)
    evaluated_at: Mapped[datetime | None]
    changed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None]
    # The error episode: when the current run of consecutive errors began, and whether
    # it was announced, so that a long outage produces one notification, not one per poll.
    error_since: Mapped[datetime | None]
    error_notified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EventRow(Base):
    """An append-only record of one verdict transition (state or target changed)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_watch_id_id", "watch_id", "id"),
        # AUTOINCREMENT keeps SQLite from reusing ids, so an id is a stable cursor.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    watch_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    from_target: Mapped[str | None] = mapped_column(String(255))
    to_target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class FeatureScanRow(Base):
    """The result of scanning one commit for one marker rule: scanned once, ever."""

    __tablename__ = "feature_scans"

    repo: Mapped[str] = mapped_column(String(255), primary_key=True)
    commit_sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A hash of marker, include/exclude globs and all_evidence: any change rescans.
    rule_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    found: Mapped[bool] = mapped_column(Boolean)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    members_seen: Mapped[int] = mapped_column(Integer)
    bytes_read: Mapped[int] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean)
    scanned_at: Mapped[datetime]


class ImageCheckRow(Base):
    """The digest a registry returned for an image reference, and when."""

    __tablename__ = "image_checks"

    reference: Mapped[str] = mapped_column(String(512), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(255))
    checked_at: Mapped[datetime]


class OutboxRow(Base):
    """A notification to deliver, written with what it announces.

    See docs/architecture.md, «Notifications».

    ``sent_at`` stays NULL until delivery succeeded; ``attempts`` counts deliveries
    begun, so a deliverer seeing more than one knows an earlier try may have posted.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The deliverer's query: unsent rows (sent_at IS NULL) in id order.
        Index("ix_outbox_sent_at_id", "sent_at", "id"),
        # AUTOINCREMENT keeps SQLite from reusing the id of a pruned row.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    watch_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int | None] = mapped_column(ID_TYPE, ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    sent_ref: Mapped[str | None] = mapped_column(Text)


class PullRequestRow(Base):
    """The one pull request of a chart (repository, path, group), as watcher last left it."""

    __tablename__ = "pull_requests"

    chart: Mapped[str] = mapped_column(String(255), primary_key=True)
    repo: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    branch: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    members: Mapped[dict[str, str]] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class KeyValueRow(Base):
    """A small named value, e.g. the dashboard issue number or its last body's hash."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class LeaseRow(Base):
    """Which replica acts: held by ``holder`` until ``expires_at``.

    See docs/architecture.md, «State».
    """

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]


class NotifyTargetRow(Base):
    """An Apprise target as last configured: a secret-free key, never its URL.

    ``since_outbox_id`` is the newest outbox row when the target first appeared: it
    receives what happens from then on, not the whole history before it.
    """

    __tablename__ = "notify_targets"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    # The watch ids it serves; NULL: every watch.
    watches: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    since_outbox_id: Mapped[int] = mapped_column(ID_TYPE)
    created_at: Mapped[datetime]


class OutboxDeliveryRow(Base):
    """The delivery of one outbox row to one Apprise target: claimed, retried, sent.

    ``claimed_until`` is the claim of the process sending it now, so two processes
    never send the same row to the same target; ``next_attempt_at`` is the backoff
    after a failure; ``failing_since`` when the current run of failures began.
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (Index("ix_outbox_deliveries_target_sent_at", "target", "sent_at"),)

    outbox_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(255), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
