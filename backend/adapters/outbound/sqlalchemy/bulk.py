"""Driver-level reads and writes of read-model rows, for the paths every command takes.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself when a
rebuild writes thousands of rows a page, and its per-statement work (cache keys, expanding
IN parameters, result processing) is a large part of a command's inline projection. So these
statements are compiled once per dialect and table and go to the DBAPI cursor with plain
values. SQLite gets and gives datetimes and dates in the text form SQLAlchemy itself stores
(naive UTC), so reads and writes through Core elsewhere stay identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Date, DateTime, Dialect, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

R = TypeVar("R")

#: Builds an INSERT variant for (dialect name, table).
StatementBuilder = Callable[[str, Table], Insert]


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@lru_cache(maxsize=64)
def guarded_upsert(dialect: str, table: Table) -> Insert:
    """Insert, or replace the stored row only by one with a higher `version`."""
    statement = _insert(dialect, table)
    keys = [column.name for column in table.primary_key.columns]
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: statement.excluded[c.name] for c in table.c if c.name not in keys},
        where=table.c.version < statement.excluded.version,
    )
    return upsert


@lru_cache(maxsize=16)
def insert_new(dialect: str, table: Table) -> Insert:
    """Insert, leaving rows whose key is already stored as they are."""
    statement: Insert = _insert(dialect, table).on_conflict_do_nothing()
    return statement


@dataclass(frozen=True)
class _Compiled:
    """A statement ready for the driver: SQL, the row fields in parameter order, and the
    positions (among them) of values SQLite needs as text."""

    sql: str
    values: Callable[[object], tuple[Any, ...]]
    names: tuple[str, ...]
    text_positions: tuple[tuple[int, Callable[[Any], str]], ...]
    pg_types: tuple[str, ...]


@lru_cache(maxsize=64)
def _compiled(dialect: Dialect, table: Table, build: StatementBuilder) -> _Compiled:
    names = tuple(column.name for column in table.c)
    compiled = build(dialect.name, table).compile(dialect=dialect, column_keys=list(names))
    if compiled.positional:
        names = tuple(compiled.positiontup or ())
    types = {column.name: column.type for column in table.c}
    text: tuple[tuple[int, Callable[[Any], str]], ...] = tuple(
        (i, _sqlite_datetime if isinstance(types[n], DateTime) else date.isoformat)
        for i, n in enumerate(names)
        if isinstance(types[n], DateTime | Date)
    )
    pg_types = tuple(types[n].compile(dialect=dialect) for n in names)
    return _Compiled(str(compiled), attrgetter(*names), names, text, pg_types)


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")  # SQLAlchemy's own SQLite DATETIME text


def _sqlite_row(statement: _Compiled, row: object) -> tuple[Any, ...]:
    values = list(statement.values(row))
    for position, as_text in statement.text_positions:
        if values[position] is not None:
            values[position] = as_text(values[position])
    return tuple(values)


def write_rows(
    connection: Connection, build: StatementBuilder, table: Table, rows: Sequence[object]
) -> None:
    """Execute `build`'s statement once per row (one executemany); rows are dataclasses whose
    fields are named like the table's columns."""
    if not rows:
        return
    statement = _compiled(connection.dialect, table, build)
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(statement.sql, [_sqlite_row(statement, row) for row in rows])
    else:
        _postgres_write(connection, statement, rows)


def _postgres_write(connection: Connection, statement: _Compiled, rows: Sequence[object]) -> None:
    """One INSERT ... SELECT FROM unnest(<one array per column>): psycopg's executemany pays a
    round of Python work per row, and a long VALUES list a parse of every placeholder."""
    # Lists, not tuples: psycopg sends a list as an array and a tuple as a composite.
    columns = [list(column) for column in zip(*map(statement.values, rows), strict=True)]
    connection.exec_driver_sql(_unnest_sql(connection.dialect, statement), tuple(columns))


@lru_cache(maxsize=64)
def _unnest_sql(dialect: Dialect, statement: _Compiled) -> str:
    quote = dialect.identifier_preparer.quote
    head, tail = statement.sql.split(" ON CONFLICT", 1)
    table = head.removeprefix("INSERT INTO ").split(" ", 1)[0]
    arrays = ", ".join(f"%s::{type_}[]" for type_ in statement.pg_types)
    names = ", ".join(quote(name) for name in statement.names)
    # Only identifiers and type names of our own tables go into the text; values are bound.
    select = f"SELECT * FROM unnest({arrays})"  # noqa: S608
    return f"INSERT INTO {table} ({names}) {select} ON CONFLICT{tail}"


def read_rows(
    connection: Connection,
    table: Table,
    build: Callable[..., R],
    where: Mapping[str, Collection[Any]],
) -> list[R]:
    """`build(*row)` for each row whose column `c` is among `where[c]`, for every `c`; the
    columns come in table order, datetimes as aware UTC and dates as dates."""
    if not all(where.values()):
        return []
    dialect = connection.dialect.name
    sql, converters = _select_sql(dialect, table, tuple(where))
    if dialect == "sqlite":  # the values of each column as one JSON array (json_each)
        params: tuple[Any, ...] = tuple(_json_array(values) for values in where.values())
    else:
        params = tuple(list(values) for values in where.values())
    rows = connection.exec_driver_sql(sql, params)
    if not converters:
        return [build(*row) for row in rows]
    found = []
    for row in rows:
        values = list(row)
        for position, convert in converters:
            if values[position] is not None:
                values[position] = convert(values[position])
        found.append(build(*values))
    return found


@lru_cache(maxsize=32)
def _select_sql(
    dialect: str, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[tuple[int, Callable[[Any], Any]], ...]]:
    """SELECT every column of `table` by sets of `keys` values, and the value converters."""
    # Only identifiers of our own tables go into the text; values are bound.
    names = ", ".join(f'"{column.name}"' for column in table.c)
    test = '"{}" IN (SELECT value FROM json_each(?))' if dialect == "sqlite" else '"{}" = ANY(%s)'
    tests = " AND ".join(test.format(key) for key in keys)
    sql = f'SELECT {names} FROM "{table.name}" WHERE {tests}'  # noqa: S608
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for position, column in enumerate(table.c):
        if isinstance(column.type, DateTime):
            converters.append((position, _utc if dialect == "postgresql" else _from_sqlite_text))
        elif isinstance(column.type, Date) and dialect == "sqlite":
            converters.append((position, date.fromisoformat))
    return sql, tuple(converters)


def _json_array(values: Collection[Any]) -> str:
    """SQLite's side of a set of values: a JSON array, dates in their stored ISO form."""
    return json.dumps([v.isoformat() if isinstance(v, date) else v for v in values])


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _from_sqlite_text(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
