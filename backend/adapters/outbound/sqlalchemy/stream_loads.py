"""What loading an aggregate reads, at driver level: its latest snapshot, the events after it
and the head of its hash chain, in one statement (the hot path of every command)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, RowMapping

from backend.adapters.outbound.sqlalchemy.driver import fetch_all
from backend.adapters.outbound.sqlalchemy.json_documents import loads
from backend.application.event_hash import GENESIS
from backend.application.ports.event_store import (
    EventMetadata,
    EventRecord,
    Snapshot,
    StoredEvent,
    StreamHistory,
)

# The latest snapshot row (type NULL) first, then the events after it. Sent to the driver as is (no
# Core compilation or result processing on this hot path), so it is written once per parameter
# style: `:id` for sqlite3, `%(id)s` for psycopg. The last column is each event's hash, and the
# snapshot's event's: the head of the chain that the next append continues comes with the load,
# at the cost of one index lookup.
_HISTORY_SQL = """
SELECT version, stream_type, NULL AS type, state_version, state,
       (SELECT hash FROM events WHERE stream_id = {id} AND version = snapshots.version)
  FROM snapshots
 WHERE stream_id = {id}
   AND version = (SELECT MAX(version) FROM snapshots WHERE stream_id = {id})
UNION ALL
SELECT version, stream_type, type, schema_version, data, hash FROM events
 WHERE stream_id = {id}
   AND version > COALESCE((SELECT MAX(version) FROM snapshots WHERE stream_id = {id}), 0)
ORDER BY version
"""
_EVENTS_SQL = """
SELECT version, stream_type, type, schema_version, data, hash FROM events
 WHERE stream_id = {id} ORDER BY version
"""
_PLACEHOLDER = {"sqlite": ":id", "postgresql": "%(id)s"}
_HASH_AT_SQL = {
    "sqlite": "SELECT hash FROM events WHERE stream_id = :id AND version = :version",
    "postgresql": "SELECT hash FROM events WHERE stream_id = %(id)s AND version = %(version)s",
}


def read_history(connection: Connection, stream_id: str, *, from_snapshot: bool) -> StreamHistory:
    """The EventStore port's `history`, on the connection's transaction."""
    sql = _history_sql(connection.dialect.name, from_snapshot)
    rows = fetch_all(connection, sql, {"id": stream_id})
    snapshot = None
    if rows and rows[0][2] is None:
        version, stream_type, _, state_version, state, _ = rows[0]
        snapshot = Snapshot(stream_id, stream_type, version, state_version, _document(state))
    events = rows[1:] if snapshot is not None else rows
    records = [EventRecord(v, st, t, sv, _document(data)) for v, st, t, sv, data, _ in events]
    return StreamHistory(snapshot, records, rows[-1][5] if rows else None)


def hash_at(connection: Connection, stream_id: str, version: int) -> str:
    """The chain's hash at `version` (a read the callers that loaded the stream skip). A
    version the stream lacks gives GENESIS: an append after it conflicts anyway."""
    if version == 0:
        return GENESIS
    sql = _HASH_AT_SQL[connection.dialect.name]
    found = fetch_all(connection, sql, {"id": stream_id, "version": version})
    return str(found[0][0]) if found else GENESIS


@lru_cache(maxsize=8)
def _history_sql(dialect: str, from_snapshot: bool) -> str:
    return (_HISTORY_SQL if from_snapshot else _EVENTS_SQL).format(id=_PLACEHOLDER[dialect])


def _document(value: Any) -> dict[str, Any]:
    """A JSON column read at driver level: text on SQLite, already parsed (JSONB) by psycopg."""
    return value if isinstance(value, dict) else loads(value)


def stored_event(row: RowMapping) -> StoredEvent:
    """A StoredEvent from an `events` row (any SELECT of all its columns)."""
    return StoredEvent(
        position=row["position"],
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=EventMetadata.from_dict(row["metadata"]),
        occurred_at=to_utc(row["occurred_at"]),
        hash=row["hash"],
    )


def to_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; SQLite hands back naive values, which we store as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
