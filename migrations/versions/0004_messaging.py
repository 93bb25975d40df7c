"""Messaging: the index of pending transfers' deadlines that the sweeper scans.

Revision ID: 0004_messaging
Revises: 0003_identity
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_messaging"
down_revision: str | Sequence[str] | None = "0003_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfer_deadlines",
        sa.Column("transfer_id", sa.String(128), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfer_deadlines"),
    )
    op.create_index("ix_transfer_deadlines_deadline", "transfer_deadlines", ["deadline"])


def downgrade() -> None:
    op.drop_index("ix_transfer_deadlines_deadline", table_name="transfer_deadlines")
    op.drop_table("transfer_deadlines")
