"""Apprise targets and the delivery of each outbox row to each of them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Types are spelled out here (not imported from watcher.state.tables), so that this
revision keeps creating the same schema whatever the models become later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create notify_targets and outbox_deliveries."""
    op.create_table(
        "notify_targets",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("watches", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("since_outbox_id", ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notify_targets")),
    )
    op.create_table(
        "outbox_deliveries",
        sa.Column("outbox_id", ID, nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("claimed_until", TIMESTAMP, nullable=True),
        sa.Column("failing_since", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_deliveries_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("outbox_id", "target", name=op.f("pk_outbox_deliveries")),
    )
    op.create_index(
        "ix_outbox_deliveries_target_sent_at", "outbox_deliveries", ["target", "sent_at"]
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_outbox_deliveries_target_sent_at", table_name="outbox_deliveries")
    op.drop_table("outbox_deliveries")
    op.drop_table("notify_targets")
