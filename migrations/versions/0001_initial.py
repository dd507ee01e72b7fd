"""Initial schema: HTTP cache, runs, observations, verdicts, events, scan and image caches.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here (not imported from watcher.state.tables), so that this
revision keeps creating the same schema whatever the models become later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite assigns ids only to INTEGER PRIMARY KEY columns (see tables.ID_TYPE).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "http_cache",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_http_cache")),
    )
    op.create_table(
        "runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("not_modified", sa.Integer(), nullable=False),
        sa.Column("quota_used", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "observations",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("watch_id", sa.String(length=128), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("release_tag", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("observed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_observations_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index("ix_observations_run_id", "observations", ["run_id"])
    op.create_index(
        "ix_observations_watch_id_observed_at", "observations", ["watch_id", "observed_at"]
    )
    op.create_table(
        "verdicts",
        sa.Column("watch_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("target_tag", sa.String(length=255), nullable=True),
        sa.Column("target", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", TIMESTAMP, nullable=True),
        sa.Column("changed_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("watch_id", name=op.f("pk_verdicts")),
    )
    op.create_table(
        "events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("watch_id", sa.String(length=128), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("from_target", sa.String(length=255), nullable=True),
        sa.Column("to_target", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_watch_id_id", "events", ["watch_id", "id"])
    op.create_table(
        "feature_scans",
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("rule_key", sa.String(length=128), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("members_seen", sa.Integer(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("scanned_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("repo", "commit_sha", "rule_key", name=op.f("pk_feature_scans")),
    )
    op.create_table(
        "image_checks",
        sa.Column("reference", sa.String(length=512), nullable=False),
        sa.Column("digest", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_image_checks")),
    )


def downgrade() -> None:
    """Drop every table (the data goes with them)."""
    for table in (
        "image_checks",
        "feature_scans",
        "events",
        "verdicts",
        "observations",
        "runs",
        "http_cache",
    ):
        op.drop_table(table)
