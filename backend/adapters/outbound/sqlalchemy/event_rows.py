"""The rows an append writes: their SQL on PostgreSQL and SQLite, and the records they become."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from backend.adapters.outbound.sqlalchemy.bulk import sqlite_datetime
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.application.ports.event_store import NewEvent, StoredEvent

#: The global append lock: ("hexb" in ASCII, the schema holding the events table), so that
#: deployments or test runs sharing a database in separate schemas don't serialise each other.
APPEND_LOCK_KEY = 0x68_65_78_62
LOCK_KEYS = f"{APPEND_LOCK_KEY}, hashtext(current_schema())"
#: What each appender holds from drawing its positions to its commit: appenders don't exclude
#: each other, only the exclusive holders above and the readers' barrier below.
_APPENDER_LOCK_SQL = f"SELECT pg_advisory_xact_lock_shared({LOCK_KEYS})"
EVENT_COLUMNS = [c.name for c in events.columns if c.name != "position"]
# SQLite: the events of an append as one multi-row INSERT ... RETURNING, then the outbox rows
# in one executemany; driver-level, with the JSON and datetime text Core would write.
SQLITE_ROW = "(" + ", ".join("?" for _ in EVENT_COLUMNS) + ")"

_OUTBOXED = ", outboxed AS (INSERT INTO outbox (id) SELECT position FROM appended)"


def _pg_append_sql(publish: bool = True) -> str:
    """One round trip on PostgreSQL: take the append lock (shared), insert the events and their
    outbox rows, return (position, stream id, version) of each.

    The lock is a materialised CTE joined to the rows, so no row (and no position from the
    sequence) exists before the lock is held. The rows come as one JSON array of objects
    (jsonb_to_recordset): one parameter for the driver to send whatever the number of events,
    where an array per column cost more to adapt than the statement to run.
    """
    columns = ", ".join(EVENT_COLUMNS)
    typed = ", ".join(f'"{name}" {_PG_TYPES[name]}' for name in EVENT_COLUMNS)
    # Only our own column names and placeholders go into the text; values are bound.
    return (
        f"WITH locked AS MATERIALIZED ({_APPENDER_LOCK_SQL}),"  # noqa: S608
        f" appended AS (INSERT INTO events ({columns})"
        f" SELECT batch.* FROM locked CROSS JOIN jsonb_to_recordset(%s::jsonb) AS batch({typed})"
        " RETURNING position, stream_id, version)"
        + (
            ", outboxed AS (INSERT INTO outbox (id) SELECT position FROM appended)"
            if publish
            else ""
        )
        + " SELECT position, stream_id, version FROM appended"
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
PG_APPEND = _pg_append_sql()
PG_APPEND_UNPUBLISHED = _pg_append_sql(publish=False)


@lru_cache(maxsize=16)
def sqlite_append_sql(count: int) -> str:
    columns = ", ".join(EVENT_COLUMNS)
    values = ", ".join([SQLITE_ROW] * count)
    # Only our own column names and placeholders go into the text; values are bound.
    return f"INSERT INTO events ({columns}) VALUES {values} RETURNING position, stream_id, version"  # noqa: S608


def sqlite_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row's values in column order as SQLite stores them: JSON text, naive UTC text."""
    values = {
        **row,
        "data": json.dumps(row["data"]),
        "metadata": json.dumps(row["metadata"]),
        "occurred_at": sqlite_datetime(row["occurred_at"]),
    }
    return tuple(values[name] for name in EVENT_COLUMNS)


def event_row(
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


def stored_from_row(row: dict[str, Any], position: int, event: NewEvent) -> StoredEvent:
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
