"""The transfer engine's work table replaces the sweeper's deadline index.

`transfer_work` holds a row per pending transfer, as `transfer_deadlines` did, plus what the
engines claim by: when the row is ready (`ready_at`: at once, then past each claim's lease) and
how often it was claimed. The deadline itself lives in the transfer (its TransferRequested).
Pending transfers of the old table become ready at once; their request time is unknown here,
so the deadline stands in for it (it only feeds the duration metric of their end).

Revision ID: 0010_transfer_work
Revises: 0009_feed
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_transfer_work"
down_revision: str | Sequence[str] | None = "0009_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "transfer_work",
        sa.Column("transfer_id", ID, nullable=False),
        sa.Column("requested_at", MOMENT, nullable=False),
        sa.Column("ready_at", MOMENT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfer_work"),
    )
    op.create_index("ix_transfer_work_ready_at", "transfer_work", ["ready_at"])
    op.execute(
        "INSERT INTO transfer_work (transfer_id, requested_at, ready_at, attempts)"
        " SELECT transfer_id, deadline, CURRENT_TIMESTAMP, 0 FROM transfer_deadlines"
    )
    op.drop_index("ix_transfer_deadlines_deadline", table_name="transfer_deadlines")
    op.drop_table("transfer_deadlines")


def downgrade() -> None:
    op.create_table(
        "transfer_deadlines",
        sa.Column("transfer_id", ID, nullable=False),
        sa.Column("deadline", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfer_deadlines"),
    )
    op.create_index("ix_transfer_deadlines_deadline", "transfer_deadlines", ["deadline"])
    op.execute(
        "INSERT INTO transfer_deadlines (transfer_id, deadline)"
        " SELECT transfer_id, requested_at FROM transfer_work"
    )
    op.drop_index("ix_transfer_work_ready_at", table_name="transfer_work")
    op.drop_table("transfer_work")
