"""Core tables of the read side: account summaries, transactions, daily totals, transfer
views, and projection checkpoints.

The tables are built by a function so that a rebuild can make shadow copies of them (same
columns, names with a suffix) to fill while the live ones keep serving.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from backend.adapters.outbound.sqlalchemy.schema import metadata

ID = String(128)
MONEY = BigInteger
POSITION = BigInteger
CURRENCY = String(3)
REFERENCE = String(500)
SHADOW_SUFFIX = "__rebuild"


def _at(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _table(
    meta: MetaData, name: str, key: list[str], indexes: dict[str, list[str]], *cols: Column[object]
) -> Table:
    """A table whose primary key and indexes are named explicitly after the table."""
    table = Table(name, meta, *cols, PrimaryKeyConstraint(*key, name=f"pk_{name}"))
    for label, columns in indexes.items():
        Index(f"ix_{name}_{label}", *(table.c[c] for c in columns))
    return table


def account_summaries_table(meta: MetaData, suffix: str = "") -> Table:
    return _table(
        meta, "account_summaries" + suffix, ["account_id"],
        {"owner": ["owner_id", "opened_position"]},
        Column("account_id", ID, nullable=False), Column("owner_id", ID, nullable=False),
        Column("name", String(100), nullable=False), Column("currency", CURRENCY, nullable=False),
        Column("balance", MONEY, nullable=False), Column("held", MONEY, nullable=False),
        Column("status", String(16), nullable=False), Column("version", Integer, nullable=False),
        Column("opened_position", POSITION, nullable=False),
        _at("opened_at"), _at("updated_at"),
    )  # fmt: skip


def transactions_table(meta: MetaData, suffix: str = "") -> Table:
    return _table(
        meta, "transactions" + suffix, ["transaction_id"],
        {"account": ["account_id", "position"]},
        Column("transaction_id", ID, nullable=False), Column("account_id", ID, nullable=False),
        Column("position", POSITION, nullable=False), Column("kind", String(16), nullable=False),
        Column("amount", MONEY, nullable=False), Column("currency", CURRENCY, nullable=False),
        Column("balance_after", MONEY, nullable=False), Column("reference", REFERENCE),
        Column("transfer_id", ID), _at("occurred_at"),
    )  # fmt: skip


def daily_totals_table(meta: MetaData, suffix: str = "") -> Table:
    return _table(
        meta, "daily_totals" + suffix, ["account_id", "day"], {},
        Column("account_id", ID, nullable=False), Column("day", Date, nullable=False),
        Column("deposits", MONEY, nullable=False), Column("withdrawals", MONEY, nullable=False),
        Column("transfers_in", MONEY, nullable=False),
        Column("transfers_out", MONEY, nullable=False),
        Column("closing_balance", MONEY, nullable=False),
        Column("version", Integer, nullable=False),
    )  # fmt: skip


def transfer_views_table(meta: MetaData, suffix: str = "") -> Table:
    return _table(
        meta, "transfer_views" + suffix, ["transfer_id"],
        {
            "source_owner": ["source_owner_id", "created_position"],
            "target_owner": ["target_owner_id", "created_position"],
        },
        Column("transfer_id", ID, nullable=False), Column("source_account_id", ID, nullable=False),
        Column("target_account_id", ID, nullable=False), Column("amount", MONEY, nullable=False),
        Column("currency", CURRENCY, nullable=False), Column("reference", REFERENCE),
        Column("status", String(16), nullable=False), Column("failure_reason", String(64)),
        _at("created_at"), _at("updated_at"), _at("completed_at", nullable=True),
        Column("source_owner_id", ID, nullable=False), Column("target_owner_id", ID),
        Column("version", Integer, nullable=False),
        Column("created_position", POSITION, nullable=False),
    )  # fmt: skip


projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(100), nullable=False),
    Column("position", POSITION, nullable=False),
    PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
)


@dataclass(frozen=True)
class ReadModelTables:
    """The four read-model tables a store writes to: the live ones, or a rebuild's mix."""

    summaries: Table
    transactions: Table
    daily_totals: Table
    transfers: Table


def build_read_model_tables(meta: MetaData, suffix: str = "") -> ReadModelTables:
    return ReadModelTables(
        account_summaries_table(meta, suffix),
        transactions_table(meta, suffix),
        daily_totals_table(meta, suffix),
        transfer_views_table(meta, suffix),
    )


#: The tables queries read and commands write.
LIVE = build_read_model_tables(metadata)
