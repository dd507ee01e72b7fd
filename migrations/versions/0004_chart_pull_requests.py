"""The pull_requests table keyed by chart: one pull request per chart, shared by its watches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

The old table (one row per watch and number) was written by nothing but tests; the
live state of a pull request is found again on GitHub, so nothing is carried over.
Types are spelled out here (not imported from watcher.state.tables), so that this
revision keeps creating the same schema whatever the models become later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Replace the per-watch pull_requests table with one row per chart."""
    op.drop_table("pull_requests")
    op.create_table(
        "pull_requests",
        sa.Column("chart", sa.String(length=255), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("content", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("chart", name=op.f("pk_pull_requests")),
    )


def downgrade() -> None:
    """Back to one row per watch and pull request number (empty)."""
    op.drop_table("pull_requests")
    op.create_table(
        "pull_requests",
        sa.Column("watch_id", sa.String(length=128), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("target_tag", sa.String(length=255), nullable=False),
        sa.Column("head_branch", sa.String(length=255), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("watch_id", "number", name=op.f("pk_pull_requests")),
    )
