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

from backend.adapters.outbound.sqlalchemy.driver import execute, execute_many, fetch_all

R = TypeVar("R")

#: Builds an INSERT variant for (dialect name, table).
StatementBuilder = Callable[[str, Table], Insert]


def insert_statement(dialect: str, table: Table) -> Any:
    """A dialect INSERT of `table` (one that has ON CONFLICT clauses)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@lru_cache(maxsize=64)
def guarded_upsert(dialect: str, table: Table) -> Insert:
    """Insert, or replace the stored row only by one with a higher `version`."""
    statement = insert_statement(dialect, table)
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
    statement: Insert = insert_statement(dialect, table).on_conflict_do_nothing()
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
        (i, sqlite_datetime if isinstance(types[n], DateTime) else date.isoformat)
        for i, n in enumerate(names)
        if isinstance(types[n], DateTime | Date)
    )
    pg_types = tuple(types[n].compile(dialect=dialect) for n in names)
    return _Compiled(str(compiled), attrgetter(*names), names, text, pg_types)


def sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy stores it in a SQLite DATETIME column (naive UTC text)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")  # SQLAlchemy's own SQLite DATETIME text


def _sqlite_row(statement: _Compiled, row: object) -> tuple[Any, ...]:
    values = list(statement.values(row))
    for position, as_text in statement.text_positions:
        if values[position] is not None:
            values[position] = as_text(values[position])
    return tuple(values)


#: Rows for one table: the statement to write them with, the table, dataclasses named like it.
Batch = tuple[StatementBuilder, Table, Sequence[object]]


def write_batches(connection: Connection, batches: Sequence[Batch]) -> None:
    """Write several tables' rows: one executemany per table on SQLite; on PostgreSQL one
    statement in all (each table's INSERT a data-modifying CTE of the next): one round trip."""
    present = [(build, table, rows) for build, table, rows in batches if rows]
    if not present:
        return
    compiled = [_compiled(connection.dialect, table, build) for build, table, _ in present]
    if connection.dialect.name == "sqlite":
        for statement, (_, _, rows) in zip(compiled, present, strict=True):
            execute_many(connection, statement.sql, [_sqlite_row(statement, row) for row in rows])
        return
    params = tuple(
        column
        for statement, (_, _, rows) in zip(compiled, present, strict=True)
        for column in _columns(statement, rows)
    )
    execute(connection, _chained_sql(connection.dialect, tuple(compiled)), params)


def _columns(statement: _Compiled, rows: Sequence[object]) -> list[list[Any]]:
    # Lists, not tuples: psycopg sends a list as an array and a tuple as a composite.
    return [list(column) for column in zip(*map(statement.values, rows), strict=True)]


@lru_cache(maxsize=64)
def _chained_sql(dialect: Dialect, statements: tuple[_Compiled, ...]) -> str:
    """INSERT ... SELECT FROM unnest(<one array per column>) per table, chained as CTEs:
    psycopg's executemany pays a round of Python work per row, and a long VALUES list a parse
    of every placeholder."""
    inserts = [_unnest_sql(dialect, statement) for statement in statements]
    if len(inserts) == 1:
        return inserts[0]
    ctes = ", ".join(f"write_{n} AS ({sql})" for n, sql in enumerate(inserts[:-1]))
    return f"WITH {ctes} {inserts[-1]}"


@lru_cache(maxsize=64)
def _unnest_sql(dialect: Dialect, statement: _Compiled) -> str:
    quote = dialect.identifier_preparer.quote
    table = statement.sql.removeprefix("INSERT INTO ").split(" ", 1)[0]
    arrays = ", ".join(f"%s::{type_}[]" for type_ in statement.pg_types)
    names = ", ".join(quote(name) for name in statement.names)
    # Only identifiers and type names of our own tables go into the text; values are bound.
    select = f"SELECT * FROM unnest({arrays})"  # noqa: S608
    return f"INSERT INTO {table} ({names}) {select} {_conflict_clause(statement)}"


def conflict_clause(dialect: Dialect, table: Table, build: StatementBuilder) -> str:
    """The `ON CONFLICT ...` clause of `build`'s INSERT of `table`, as compiled for
    `dialect`: for statements that insert the same rows from another source."""
    return _conflict_clause(_compiled(dialect, table, build))


def _conflict_clause(statement: _Compiled) -> str:
    return "ON CONFLICT" + statement.sql.split(" ON CONFLICT", 1)[1]


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
    columns = _selected(dialect, table, "t")
    sql = _rows_sql(dialect, table, tuple(where))
    params = tuple(value_set(dialect, values) for values in where.values())
    return [build(*columns.convert(row)) for row in fetch_all(connection, sql, params)]


@lru_cache(maxsize=32)
def _rows_sql(dialect: str, table: Table, keys: tuple[str, ...]) -> str:
    tests = " AND ".join(among(dialect, f't."{key}"') for key in keys)
    # Only identifiers of our own tables go into the text; values are bound.
    return f'SELECT {_selected(dialect, table, "t").sql} FROM "{table.name}" t WHERE {tests}'  # noqa: S608


def read_with_details(
    connection: Connection,
    rows: tuple[Table, str, Collection[Any]],
    details: tuple[Table, str, Collection[Any]],
) -> list[tuple[list[Any], list[Any] | None]]:
    """In one statement: the rows of `rows[0]` whose `rows[1]` is among `rows[2]`, each with
    its detail rows (same key column) whose `details[1]` is among `details[2]`, or None.
    Values converted as by `read_rows`."""
    (table, key, keys), (detail, detail_key, detail_keys) = rows, details
    if not keys:
        return []
    dialect = connection.dialect.name
    left, right = _selected(dialect, table, "t"), _selected(dialect, detail, "d")
    sql = _with_details_sql(dialect, table, key, detail, detail_key)
    params = (value_set(dialect, detail_keys or ()), value_set(dialect, keys))
    found = []
    for row in fetch_all(connection, sql, params):
        values, more = row[: left.width], row[left.width :]
        found.append((left.convert(values), None if more[0] is None else right.convert(more)))
    return found


@lru_cache(maxsize=8)
def _with_details_sql(dialect: str, table: Table, key: str, detail: Table, detail_key: str) -> str:
    left, right = _selected(dialect, table, "t"), _selected(dialect, detail, "d")
    detail_test, key_test = among(dialect, f'd."{detail_key}"'), among(dialect, f't."{key}"')
    # Only identifiers of our own tables go into the text; values are bound.
    return (
        f'SELECT {left.sql}, {right.sql} FROM "{table.name}" t'  # noqa: S608
        f' LEFT JOIN "{detail.name}" d ON d."{key}" = t."{key}" AND {detail_test}'
        f" WHERE {key_test}"
    )


@dataclass(frozen=True)
class _Selection:
    """A table's columns as a SELECT list under an alias, and how to convert what comes back."""

    sql: str
    width: int
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]

    def convert(self, row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for position, convert in self.converters:
            if values[position] is not None:
                values[position] = convert(values[position])
        return values


@lru_cache(maxsize=32)
def _selected(dialect: str, table: Table, alias: str) -> _Selection:
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for position, column in enumerate(table.c):
        if isinstance(column.type, DateTime):
            converters.append((position, _utc if dialect == "postgresql" else _from_sqlite_text))
        elif isinstance(column.type, Date) and dialect == "sqlite":
            converters.append((position, date.fromisoformat))
    names = ", ".join(f'{alias}."{column.name}"' for column in table.c)
    return _Selection(names, len(table.c), tuple(converters))


def among(dialect: str, column: str) -> str:
    """`column` is one of a set of values bound as one parameter (`value_set`)."""
    if dialect == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608 (our identifiers)
    return f"{column} = ANY(%s)"


def value_set(dialect: str, values: Collection[Any]) -> Any:
    """SQLite: a JSON array (json_each), dates in their stored ISO form; psycopg: an array."""
    if dialect == "sqlite":
        return json.dumps([v.isoformat() if isinstance(v, date) else v for v in values])
    return list(values)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _from_sqlite_text(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
