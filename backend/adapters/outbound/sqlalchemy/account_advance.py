"""`ReadModelStore.advance_account`: a command's account rows written without reading them.

The summary moves by a guarded UPDATE (`WHERE version = from_version ... RETURNING balance`);
only when it matched are the transactions inserted and the day sums added, their balances
being the returned one minus each row's offset.

- PostgreSQL: one statement, one round trip. The UPDATE is a data-modifying CTE and the two
  INSERTs select from it, so they write nothing when it matched no row.
- SQLite: the UPDATE, then an executemany per table (in process: no round trip to save).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, Table

from backend.adapters.outbound.sqlalchemy.bulk import (
    conflict_clause,
    insert_new,
    insert_statement,
    sqlite_datetime,
    write_batches,
)
from backend.adapters.outbound.sqlalchemy.driver import fetch_all
from backend.adapters.outbound.sqlalchemy.json_documents import dumps
from backend.adapters.outbound.sqlalchemy.read_model_tables import ReadModelTables
from backend.application.read_models import AccountAdvance

#: The day sums that an advance adds to a stored day row.
SUMS = ("deposits", "withdrawals", "transfers_in", "transfers_out")


def advance_account(
    connection: Connection, tables: ReadModelTables, advance: AccountAdvance
) -> bool:
    if connection.dialect.name == "postgresql":
        return _advance_postgres(connection, tables, advance)
    return _advance_sqlite(connection, tables, advance)


@lru_cache(maxsize=16)
def adding_upsert(dialect: str, table: Table) -> Insert:
    """Insert a day row, or add its sums to the stored one of a lower version (both paths)."""
    statement = insert_statement(dialect, table)
    added = {name: table.c[name] + statement.excluded[name] for name in SUMS}
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=["account_id", "day"],
        set_={
            **added,
            "closing_balance": statement.excluded.closing_balance,
            "version": statement.excluded.version,
        },
        where=table.c.version < statement.excluded.version,
    )
    return upsert


def _summary_update(table: Table, placeholder: str) -> str:
    names = ("delta", "held", "closes", "to", "at", "id", "from")
    p = {name: placeholder.format(name=name) for name in names}
    # Only our own identifiers and placeholders go into the text; values are bound.
    return (
        f'UPDATE "{table.name}" SET balance = balance + {p["delta"]},'  # noqa: S608
        f" held = held + {p['held']},"
        f" status = CASE WHEN {p['closes']} THEN 'closed' ELSE status END,"
        f" version = {p['to']}, updated_at = {p['at']}"
        f" WHERE account_id = {p['id']} AND version = {p['from']} RETURNING balance"
    )


def _summary_params(advance: AccountAdvance, at: Any) -> dict[str, Any]:
    return {
        "delta": advance.balance_delta,
        "held": advance.held_delta,
        "closes": advance.closes,
        "to": advance.to_version,
        "at": at,
        "id": advance.account_id,
        "from": advance.from_version,
    }


def _advance_sqlite(
    connection: Connection, tables: ReadModelTables, advance: AccountAdvance
) -> bool:
    sql = _sqlite_update_sql(tables.summaries)
    params = _summary_params(advance, sqlite_datetime(advance.updated_at))
    rows = fetch_all(connection, sql, params)
    if not rows:
        return False
    balance = rows[0][0]
    write_batches(
        connection,
        [
            (insert_new, tables.transactions, advance.transactions_at(balance)),
            (adding_upsert, tables.daily_totals, advance.day_increments_at(balance)),
        ],
    )
    return True


@lru_cache(maxsize=4)
def _sqlite_update_sql(table: Table) -> str:
    return _summary_update(table, ":{name}")


def _advance_postgres(
    connection: Connection, tables: ReadModelTables, advance: AccountAdvance
) -> bool:
    params = _summary_params(advance, advance.updated_at)
    # The offsets travel in the balance fields; the statement subtracts them from the balance.
    params["t"] = _rows_json(advance.transactions, "balance_after")
    params["d"] = _rows_json(advance.days, "closing_balance")
    sql = _postgres_sql(connection.dialect, tables)
    return bool(fetch_all(connection, sql, params))


def _rows_json(rows: Sequence[tuple[Any, int]], offset_field: str) -> str:
    """Rows (dataclasses) as one JSON array of objects, each with its offset in `offset_field`:
    one parameter for the driver, however many rows."""
    documents = []
    for row, offset in rows:
        document = {name: _json_value(getattr(row, name)) for name in row.__slots__}
        document[offset_field] = offset
        documents.append(document)
    return dumps(documents)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value  # datetimes are dates too


@lru_cache(maxsize=4)
def _postgres_sql(dialect: Any, tables: ReadModelTables) -> str:
    summaries, transactions, days = tables.summaries, tables.transactions, tables.daily_totals

    def rows(name: str, table: Table) -> str:
        typed = ", ".join(f'"{c.name}" {c.type.compile(dialect=dialect)}' for c in table.c)
        return f"jsonb_to_recordset(%({name})s::jsonb) AS {name}({typed})"

    def selected(name: str, table: Table, offset_column: str) -> str:
        return ", ".join(
            f'a.balance - {name}."{c.name}"' if c.name == offset_column else f'{name}."{c.name}"'
            for c in table.c
        )

    def columns(table: Table) -> str:
        return ", ".join(f'"{c.name}"' for c in table.c)

    # The conflict rules are those of the SQLite path's statements (insert_new, adding_upsert).
    # Only our own identifiers, type names and placeholders go into the text; values are bound.
    return (
        f"WITH a AS ({_summary_update(summaries, '%({name})s')}),"  # noqa: S608
        f' moved AS (INSERT INTO "{transactions.name}" ({columns(transactions)})'
        f" SELECT {selected('t', transactions, 'balance_after')}"
        f" FROM a CROSS JOIN {rows('t', transactions)}"
        f" {conflict_clause(dialect, transactions, insert_new)}),"
        f' counted AS (INSERT INTO "{days.name}" ({columns(days)})'
        f" SELECT {selected('d', days, 'closing_balance')}"
        f" FROM a CROSS JOIN {rows('d', days)}"
        f" {conflict_clause(dialect, days, adding_upsert)})"
        " SELECT balance FROM a"
    )
