"""SQLAlchemy event store on the caller's Connection (snapshots, outbox: snapshots_outbox.py).

Ordering: a reader tailing `position` (the projection follower, a rebuild) must never skip an
event that a concurrent transaction commits after a higher position became visible.
- SQLite: transactions begin IMMEDIATE, so appenders run one at a time and positions are handed
  out in commit order; `read_all` simply reads `position > p`.
- PostgreSQL: appenders run concurrently. Each holds the append lock *shared* from the statement
  that draws its positions to its commit, and `read_all` first passes a barrier: it notes the
  highest visible position, takes the lock *exclusively* for a moment (so it waits out every
  appender in flight, and holds off new ones only that long), and then reads no further than
  that position. Every position below it was drawn by an appender that has ended by then, so
  nothing at or below it can still appear; what is above is read next time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from backend.adapters.outbound.sqlalchemy.bulk import sqlite_datetime
from backend.adapters.outbound.sqlalchemy.driver import execute_many, fetch_all
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.json_documents import dumps
from backend.adapters.outbound.sqlalchemy.stream_loads import (
    hash_at,
    read_history,
    stored_event,
    to_utc,
)
from backend.application.errors import ConcurrencyError
from backend.application.event_hash import new_event_hashes
from backend.application.ports.event_store import (
    NewEvent,
    StoredEvent,
    StreamHistory,
)

#: The global append lock: ("hexb" in ASCII, the schema holding the events table), so that
#: deployments or test runs sharing a database in separate schemas don't serialise each other.
APPEND_LOCK_KEY = 0x68_65_78_62
_LOCK_KEYS = f"{APPEND_LOCK_KEY}, hashtext(current_schema())"
#: Exclusive, to the end of the transaction: no appender runs meanwhile (a rebuild's swap).
APPEND_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_LOCK_KEYS})"
#: What each appender holds from drawing its positions to its commit: appenders don't exclude
#: each other, only the exclusive holders above and the readers' barrier below.
_APPENDER_LOCK_SQL = f"SELECT pg_advisory_xact_lock_shared({_LOCK_KEYS})"
#: The readers' barrier, one statement: the head as this statement's snapshot sees it, then the
#: lock taken and released at once (session level, so the reader's own transaction holds on to
#: nothing). The head is read first, so every appender that drew a position below it is waited
#: out; the following statement, with a newer snapshot, sees all of them that committed.
#: The wait is bounded (lock_timeout, restored afterwards): appenders queue behind a waiting
#: barrier, so a reader stuck behind an appender that never ends must give up and let them on.
# Only the lock's keys are put into the text; the timeout is bound.
_BARRIER_SQL = (
    "WITH head AS MATERIALIZED (SELECT COALESCE(max(position), 0) AS position,"  # noqa: S608
    " current_setting('lock_timeout') AS saved FROM events),"
    " bounded AS MATERIALIZED (SELECT set_config('lock_timeout', %s, true) FROM head),"
    f" waited AS MATERIALIZED (SELECT pg_advisory_lock({_LOCK_KEYS}) FROM bounded),"
    f" released AS MATERIALIZED (SELECT pg_advisory_unlock({_LOCK_KEYS}),"
    " set_config('lock_timeout', head.saved, true) FROM waited, head)"
    " SELECT head.position FROM head, released"
)
#: How long a reader waits at the barrier before giving up (a follower retries at its next poll).
BARRIER_TIMEOUT_MS = 5000
VERSION_CONSTRAINT = "uq_events_stream_version"
#: A stream's writers queue here after a conflict; one 64-bit key, a space apart from the
#: two-key append lock, with the schema in it like the append lock's.
_QUEUE_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || %s, 0))"

_EVENT_COLUMNS = [c.name for c in events.columns if c.name != "position"]
# SQLite: the events of an append as one multi-row INSERT ... RETURNING, then the outbox rows
# in one executemany; driver-level, with the JSON and datetime text Core would write.
_SQLITE_ROW = "(" + ", ".join("?" for _ in _EVENT_COLUMNS) + ")"
_SQLITE_OUTBOX = "INSERT INTO outbox (id) VALUES (?)"
#: Rows per multi-row INSERT on SQLite (nine parameters each, well under its limit of 32,766).
SQLITE_CHUNK = 500
_READ_STREAM = (
    select(events)
    .where(events.c.stream_id == bindparam("stream_id"), events.c.version > bindparam("after"))
    .order_by(events.c.version)
)
_READ_STREAM_LIMITED = _READ_STREAM.limit(bindparam("limit"))
_READ_ALL = (
    select(events)
    .where(events.c.position > bindparam("after"))
    .order_by(events.c.position)
    .limit(bindparam("limit"))
)
_READ_ALL_UP_TO = _READ_ALL.where(events.c.position <= bindparam("up_to"))
_HEAD = select(func.coalesce(func.max(events.c.position), 0))


class SqlAlchemyEventStore:
    """Event store port on one connection whose transaction the unit of work owns."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        # SQLite transactions begin IMMEDIATE (engine.py), so the write lock is already held;
        # on PostgreSQL the append statement takes the append lock, shared (_PG_APPEND).
        self._postgres = connection.dialect.name == "postgresql"

    def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        previous_hash: str | None = None,
        *,
        publish: bool = True,
    ) -> list[StoredEvent]:
        if not events:
            return []
        if previous_hash is None:
            previous_hash = hash_at(self._connection, stream_id, expected_version)
        hashes = new_event_hashes(previous_hash, stream_id, expected_version, events)
        rows = [
            _row(event, stream_id, stream_type, version, chained)
            for version, (event, chained) in enumerate(
                zip(events, hashes, strict=True), start=expected_version + 1
            )
        ]
        try:
            positions = self._insert(rows, publish)
        except IntegrityError as error:
            if _is_version_conflict(error):
                moved = f"{stream_id} moved past version {expected_version}"
                raise ConcurrencyError(moved, stream_id) from error
            raise
        return [_stored(row, positions[row["version"]], events[i]) for i, row in enumerate(rows)]

    def _insert(self, rows: list[dict[str, Any]], publish: bool) -> dict[int, int]:
        """Insert events (and their outbox rows when published); version -> position."""
        if self._postgres:
            batch = [{**row, "occurred_at": row["occurred_at"].isoformat()} for row in rows]
            statement = _PG_APPEND if publish else _PG_APPEND_UNPUBLISHED
            appended = fetch_all(self._connection, statement, (dumps(batch),))
            return {version: position for position, version in appended}
        positions: dict[int, int] = {}
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = [_sqlite_values(row) for row in rows[start : start + SQLITE_CHUNK]]
            sql = _sqlite_append_sql(len(chunk))
            params = tuple(value for values in chunk for value in values)
            positions.update((v, p) for p, v in fetch_all(self._connection, sql, params))
        if publish:
            execute_many(self._connection, _SQLITE_OUTBOX, [(p,) for p in positions.values()])
        return positions

    def queue_for(self, stream_id: str) -> None:
        # SQLite's writers already run one at a time (IMMEDIATE transactions).
        if self._postgres:
            fetch_all(self._connection, _QUEUE_SQL, (stream_id,))

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        params: dict[str, Any] = {"stream_id": stream_id, "after": after_version}
        statement = _READ_STREAM
        if limit is not None:
            statement, params["limit"] = _READ_STREAM_LIMITED, limit
        return [stored_event(row) for row in self._connection.execute(statement, params).mappings()]

    def history(self, stream_id: str, *, from_snapshot: bool = True) -> StreamHistory:
        return read_history(self._connection, stream_id, from_snapshot=from_snapshot)

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        params = {"after": after_position, "limit": limit}
        statement = _READ_ALL
        if self._postgres:
            statement, params["up_to"] = _READ_ALL_UP_TO, settled_head(self._connection)
        return [stored_event(row) for row in self._connection.execute(statement, params).mappings()]

    def head_position(self) -> int:
        return int(self._connection.execute(_HEAD).scalar_one())


def settled_head(connection: Connection) -> int:
    """PostgreSQL: a position at or below which no event can still commit (the barrier above);
    a reader of `position > p` reads no further. Waits out the appenders in flight."""
    return int(fetch_all(connection, _BARRIER_SQL, (f"{BARRIER_TIMEOUT_MS}ms",))[0][0])


_OUTBOXED = ", outboxed AS (INSERT INTO outbox (id) SELECT position FROM appended)"


def _pg_append_sql(publish: bool = True) -> str:
    """One round trip on PostgreSQL: take the append lock (shared), insert the events and their
    outbox rows, return (position, version) of each.

    The lock is a materialised CTE joined to the rows, so no row (and no position from the
    sequence) exists before the lock is held. The rows come as one JSON array of objects
    (jsonb_to_recordset): one parameter for the driver to send whatever the number of events,
    where an array per column cost more to adapt than the statement to run.
    """
    columns = ", ".join(_EVENT_COLUMNS)
    typed = ", ".join(f'"{name}" {_PG_TYPES[name]}' for name in _EVENT_COLUMNS)
    # Only our own column names and placeholders go into the text; values are bound.
    return (
        f"WITH locked AS MATERIALIZED ({_APPENDER_LOCK_SQL}),"  # noqa: S608
        f" appended AS (INSERT INTO events ({columns})"
        f" SELECT batch.* FROM locked CROSS JOIN jsonb_to_recordset(%s::jsonb) AS batch({typed})"
        " RETURNING position, version)"
        + (
            ", outboxed AS (INSERT INTO outbox (id) SELECT position FROM appended)"
            if publish
            else ""
        )
        + " SELECT position, version FROM appended"
    )


#: Types of the recordset above, in the events table's column order.
_PG_TYPES = {
    "event_id": "text",
    "stream_id": "text",
    "stream_type": "text",
    "version": "int",
    "type": "text",
    "schema_version": "int",
    "data": "jsonb",
    "metadata": "jsonb",
    "occurred_at": "timestamptz",
    "hash": "text",
}
_PG_APPEND = _pg_append_sql()
_PG_APPEND_UNPUBLISHED = _pg_append_sql(publish=False)


@lru_cache(maxsize=16)
def _sqlite_append_sql(count: int) -> str:
    columns = ", ".join(_EVENT_COLUMNS)
    values = ", ".join([_SQLITE_ROW] * count)
    # Only our own column names and placeholders go into the text; values are bound.
    return f"INSERT INTO events ({columns}) VALUES {values} RETURNING position, version"  # noqa: S608


def _sqlite_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row's values in column order as SQLite stores them: JSON text, naive UTC text."""
    values = {
        **row,
        "data": json.dumps(row["data"]),
        "metadata": json.dumps(row["metadata"]),
        "occurred_at": sqlite_datetime(row["occurred_at"]),
    }
    return tuple(values[name] for name in _EVENT_COLUMNS)


def _row(
    event: NewEvent, stream_id: str, stream_type: str, version: int, chained: str
) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "stream_id": stream_id,
        "stream_type": stream_type,
        "version": version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata.to_dict(),
        "occurred_at": to_utc(event.occurred_at),
        "hash": chained,
    }


def _stored(row: dict[str, Any], position: int, event: NewEvent) -> StoredEvent:
    return StoredEvent(
        position=position,
        event_id=event.event_id,
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=row["version"],
        type=event.type,
        schema_version=event.schema_version,
        data=dict(event.data),
        metadata=event.metadata,
        occurred_at=row["occurred_at"],
        hash=row["hash"],
    )


def _is_version_conflict(error: IntegrityError) -> bool:
    diag = getattr(error.orig, "diag", None)
    if diag is not None:  # psycopg names the violated constraint
        return bool(diag.constraint_name == VERSION_CONSTRAINT)
    return "events.stream_id, events.version" in str(error.orig)
