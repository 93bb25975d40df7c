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

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from backend.adapters.outbound.sqlalchemy.driver import execute_many, fetch_all
from backend.adapters.outbound.sqlalchemy.event_rows import (
    LOCK_KEYS,
    PG_APPEND,
    PG_APPEND_UNPUBLISHED,
    event_row,
    sqlite_append_sql,
    sqlite_values,
    stored_from_row,
)
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.json_documents import dumps
from backend.adapters.outbound.sqlalchemy.stream_loads import (
    hash_at,
    read_history,
    stored_event,
)
from backend.application.errors import ConcurrencyError
from backend.application.event_hash import new_event_hashes
from backend.application.ports.event_store import (
    NewEvent,
    StoredEvent,
    StreamAppend,
    StreamHistory,
)

#: Exclusive, to the end of the transaction: no appender runs meanwhile (a rebuild's swap).
APPEND_LOCK_SQL = f"SELECT pg_advisory_xact_lock({LOCK_KEYS})"
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
    f" waited AS MATERIALIZED (SELECT pg_advisory_lock({LOCK_KEYS}) FROM bounded),"
    f" released AS MATERIALIZED (SELECT pg_advisory_unlock({LOCK_KEYS}),"
    " set_config('lock_timeout', head.saved, true) FROM waited, head)"
    " SELECT head.position FROM head, released"
)
#: How long a reader waits at the barrier before giving up (a follower retries at its next poll).
BARRIER_TIMEOUT_MS = 5000
VERSION_CONSTRAINT = "uq_events_stream_version"
#: A stream's writers queue here after a conflict; one 64-bit key, a space apart from the
#: two-key append lock, with the schema in it like the append lock's.
_QUEUE_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || %s, 0))"

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
        # on PostgreSQL the append statement takes the append lock, shared (PG_APPEND).
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
        save = StreamAppend(stream_id, stream_type, expected_version, events, previous_hash)
        return self.append_streams([save], publish=publish)

    def append_streams(
        self, appends: Sequence[StreamAppend], *, publish: bool = True
    ) -> list[StoredEvent]:
        rows: list[dict[str, Any]] = []
        news: list[NewEvent] = []
        heads: dict[str, str] = {}
        for save in appends:
            if not save.events:
                continue
            previous = heads.get(save.stream_id) or save.previous_hash
            if previous is None:
                previous = hash_at(self._connection, save.stream_id, save.expected_version)
            hashes = new_event_hashes(previous, save.stream_id, save.expected_version, save.events)
            chained = zip(save.events, hashes, strict=True)
            for version, (event, hash_) in enumerate(chained, save.expected_version + 1):
                rows.append(event_row(event, save.stream_id, save.stream_type, version, hash_))
                news.append(event)
            heads[save.stream_id] = hashes[-1]
        if not rows:
            return []
        try:
            positions = self._insert(rows, publish)
        except IntegrityError as error:
            if _is_version_conflict(error):
                stream_id = _conflicting_stream(error, appends)
                raise ConcurrencyError(f"{stream_id or 'a stream'} moved", stream_id) from error
            raise
        return [
            stored_from_row(row, positions[row["stream_id"], row["version"]], event)
            for row, event in zip(rows, news, strict=True)
        ]

    def _insert(self, rows: list[dict[str, Any]], publish: bool) -> dict[tuple[str, int], int]:
        """Insert events (and their outbox rows when published); (stream, version) ->
        position."""
        if self._postgres:
            batch = [{**row, "occurred_at": row["occurred_at"].isoformat()} for row in rows]
            statement = PG_APPEND if publish else PG_APPEND_UNPUBLISHED
            appended = fetch_all(self._connection, statement, (dumps(batch),))
            return {(stream, version): position for position, stream, version in appended}
        positions: dict[tuple[str, int], int] = {}
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = [sqlite_values(row) for row in rows[start : start + SQLITE_CHUNK]]
            sql = sqlite_append_sql(len(chunk))
            params = tuple(value for values in chunk for value in values)
            positions.update(((s, v), p) for p, s, v in fetch_all(self._connection, sql, params))
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


#: PostgreSQL's detail of a unique violation: "Key (stream_id, version)=(<id>, <n>) already…".
_CONFLICT_DETAIL = re.compile(r"=\((?P<stream>.*), \d+\) already exists")


def _conflicting_stream(error: IntegrityError, appends: Sequence[StreamAppend]) -> str | None:
    """The stream that moved: the only one appended, else as PostgreSQL names it (SQLite's
    message does not; its writers run one at a time anyway)."""
    streams = {save.stream_id for save in appends}
    if len(streams) == 1:
        return next(iter(streams))
    diag = getattr(error.orig, "diag", None)
    found = _CONFLICT_DETAIL.search(getattr(diag, "message_detail", None) or "")
    return found["stream"] if found and found["stream"] in streams else None


def _is_version_conflict(error: IntegrityError) -> bool:
    diag = getattr(error.orig, "diag", None)
    if diag is not None:  # psycopg names the violated constraint
        return bool(diag.constraint_name == VERSION_CONSTRAINT)
    return "events.stream_id, events.version" in str(error.orig)
