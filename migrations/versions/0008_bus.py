"""Idempotency keys written with the command's effect: a key's row is its result, no lease.

The row is now inserted in the command's own transaction, so there is no claimed-but-unfinished
state (lease columns) and no HTTP response (status, headers): the result is stored and each
replay builds its response the way the first request did. Rows of the old shape hold HTTP
bodies that the new code cannot replay, so the table is recreated empty: keys used in the last
24 hours before the upgrade are forgotten (drain requests before upgrading).

Revision ID: 0008_bus
Revises: 0005_refresh_token_expiry
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_bus"
down_revision: str | Sequence[str] | None = "0005_refresh_token_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "idempotency_keys"
INDEX = "ix_idempotency_keys_created_at"
ID = sa.String(128)
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    _drop()
    _create(
        sa.Column("result", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    _drop()
    _create(
        sa.Column("lease_token", ID, nullable=False),
        sa.Column("lease_expires_at", MOMENT, nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
    )


def _drop() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)


def _create(*columns: sa.Column[object]) -> None:
    op.create_table(
        TABLE,
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
    )
    op.create_index(INDEX, TABLE, ["created_at"])
