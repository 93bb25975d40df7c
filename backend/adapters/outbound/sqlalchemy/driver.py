"""Statements sent straight to the DBAPI cursor of a Connection's transaction.

Every command runs a few fixed statements (the aggregate's load, the append, the inline
projection's write), and SQLAlchemy's execution context around each one (events, result
set-up, the cursor wrapper) costs more than SQLite's own work for them. So those go to the
driver's cursor, in the transaction the Connection holds. A driver error still goes through
SQLAlchemy's handling: raised as its DBAPIError subclass (IntegrityError, OperationalError,
...), a disconnect invalidating the connection, as for any other statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from sqlalchemy import Connection

#: Parameters as the driver takes them: a mapping for named placeholders, else a sequence.
Params = Any


def fetch_all(connection: Connection, sql: str, params: Params = ()) -> list[Any]:
    """Every row the statement returns, as the driver's tuples."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except Exception as error:
        _raise(connection, error, sql, params, cursor)
    finally:
        cursor.close()


def execute(connection: Connection, sql: str, params: Params = ()) -> int:
    """Run a statement that returns no rows; the number of rows it changed."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
    except Exception as error:
        _raise(connection, error, sql, params, cursor)
    finally:
        cursor.close()


def execute_many(connection: Connection, sql: str, rows: Sequence[Params]) -> None:
    """Run a statement once per parameter set (the driver's executemany)."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, rows)
    except Exception as error:
        _raise(connection, error, sql, rows, cursor)
    finally:
        cursor.close()


def _raise(
    connection: Connection, error: Exception, sql: str, params: Any, cursor: Any
) -> NoReturn:
    # What Connection.execute does with a driver error: wrap it, invalidate on disconnect.
    connection._handle_dbapi_exception(error, sql, params, cursor, None)
    raise error  # not reached: the call above always raises
