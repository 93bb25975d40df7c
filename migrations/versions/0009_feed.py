"""The public event feed and webhooks: the feed's checkpoint, subjects and entries, the
webhooks and their deliveries. The feed follower fills them from the log on its first run.

Revision ID: 0009_feed
Revises: 0008_bus
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009_feed"
down_revision: str | Sequence[str] | None = "0008_bus"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
MOMENT = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feed_checkpoint",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_feed_checkpoint"),
    )
    op.create_table(
        "feed_subjects",
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("target_account_id", ID, nullable=True),
        sa.Column("target_owner_id", ID, nullable=True),
        sa.Column("visible_to_target", sa.Boolean(), nullable=False),
        sa.Column("state", DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name="pk_feed_subjects"),
    )
    op.create_table(
        "feed_entries",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("occurred_at", MOMENT, nullable=False),
        sa.Column("data", DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "position", name="pk_feed_entries"),
    )
    op.create_table(
        "webhooks",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", DOCUMENT, nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("after_position", sa.BigInteger(), nullable=False),
        sa.Column("blocked_until", MOMENT, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_webhooks"),
        sa.UniqueConstraint("id", name="uq_webhooks_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhooks_user", "webhooks", ["user_id", "seq"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("webhook_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", MOMENT, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("lease", ID, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("id", name="uq_webhook_deliveries_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "seq"])
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_subject",
        "webhook_deliveries",
        ["webhook_id", "subject_id", "position"],
    )


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhooks", "feed_entries", "feed_subjects"):
        op.drop_table(table)
    op.drop_table("feed_checkpoint")
