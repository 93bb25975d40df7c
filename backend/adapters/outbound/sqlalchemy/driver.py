"""Statements sent straight to the DBAPI cursor of a Connection's transaction.

Every command runs a few fixed statements (the aggregate's load, the append, the inline
projection's write), and SQLAlchemy's execution context around each one (events, result
set-up, the cursor wrapper) costs more than SQLite's own work for them. So those go to the
driver's cursor, in the transaction the Connection holds. A driver error still goes through
SQLAlchemy's handling: raised as its DBAPIError subclass (IntegrityError, OperationalError,
...), a disconnect invalidating the connection, as for any other statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

#: Parameters as the driver takes them: a mapping for named placeholders, else a sequence.
Params = Any


def fetch_all(connection: Connection, sql: str, params: Params = ()) -> list[Any]:
    """Every row the statement returns, as the driver's tuples."""
    with _cursor(connection, sql, params) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def execute(connection: Connection, sql: str, params: Params = ()) -> int:
    """Run a statement that returns no rows; the number of rows it changed."""
    with _cursor(connection, sql, params) as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def execute_many(connection: Connection, sql: str, rows: Sequence[Params]) -> None:
    """Run a statement once per parameter set (the driver's executemany)."""
    with _cursor(connection, sql, rows) as cursor:
        cursor.executemany(sql, rows)


@contextmanager
def _cursor(connection: Connection, sql: str, params: Any) -> Iterator[Any]:
    """A driver cursor on the connection's transaction, closed after use; a driver error is
    handled as Connection.execute handles it: wrapped, and a disconnect invalidates."""
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except Exception as error:
        connection._handle_dbapi_exception(error, sql, params, cursor, None)
        raise  # not reached: the call above always raises
    finally:
        cursor.close()
