"""Read models: account summaries, transactions, daily totals, transfer views, checkpoints.

Revision ID: 0002_read_models
Revises: 0001_event_store
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_read_models"
down_revision: str | Sequence[str] | None = "0001_event_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (migrations never import the live table definitions).
ID = sa.String(128)
CURRENCY = sa.String(3)
REFERENCE = sa.String(500)


def _at(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    _account_summaries()
    _transactions()
    _daily_totals()
    _transfer_views()
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
    )


def _account_summaries() -> None:
    op.create_table(
        "account_summaries",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", CURRENCY, nullable=False),
        _money("balance"),
        _money("held"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_position", sa.BigInteger(), nullable=False),
        _at("opened_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("account_id", name="pk_account_summaries"),
    )
    op.create_index(
        "ix_account_summaries_owner", "account_summaries", ["owner_id", "opened_position"]
    )


def _transactions() -> None:
    op.create_table(
        "transactions",
        sa.Column("transaction_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _money("amount"),
        sa.Column("currency", CURRENCY, nullable=False),
        _money("balance_after"),
        sa.Column("reference", REFERENCE, nullable=True),
        sa.Column("transfer_id", ID, nullable=True),
        _at("occurred_at"),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_transactions"),
    )
    op.create_index("ix_transactions_account", "transactions", ["account_id", "position"])


def _daily_totals() -> None:
    op.create_table(
        "daily_totals",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _money("deposits"),
        _money("withdrawals"),
        _money("transfers_in"),
        _money("transfers_out"),
        _money("closing_balance"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name="pk_daily_totals"),
    )


def _transfer_views() -> None:
    op.create_table(
        "transfer_views",
        sa.Column("transfer_id", ID, nullable=False),
        sa.Column("source_account_id", ID, nullable=False),
        sa.Column("target_account_id", ID, nullable=False),
        _money("amount"),
        sa.Column("currency", CURRENCY, nullable=False),
        sa.Column("reference", REFERENCE, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("completed_at", nullable=True),
        sa.Column("source_owner_id", ID, nullable=False),
        sa.Column("target_owner_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfer_views"),
    )
    for owner in ("source_owner", "target_owner"):
        op.create_index(
            f"ix_transfer_views_{owner}", "transfer_views", [f"{owner}_id", "created_position"]
        )


def downgrade() -> None:
    op.drop_table("projection_checkpoints")
    op.drop_table("transfer_views")
    op.drop_table("daily_totals")
    op.drop_table("transactions")
    op.drop_table("account_summaries")
