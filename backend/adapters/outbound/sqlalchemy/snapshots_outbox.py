"""SQLAlchemy snapshot store and outbox, each working on the unit of work's Connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Executable,
    Select,
    any_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from backend.adapters.outbound.sqlalchemy.event_store_tables import events, outbox, snapshots
from backend.adapters.outbound.sqlalchemy.stream_loads import stored_event
from backend.application.ports.event_store import Snapshot
from backend.application.ports.outbox import OutboxMessage


class SqlAlchemySnapshotStore:
    """Snapshots per stream, one row per (stream, version); the latest is the highest."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._upsert = _snapshot_upsert(connection.dialect.name)

    def save(self, snapshot: Snapshot) -> None:
        self._connection.execute(
            self._upsert,
            {
                "stream_id": snapshot.stream_id,
                "stream_type": snapshot.stream_type,
                "version": snapshot.version,
                "state_version": snapshot.state_version,
                "state": snapshot.state,
                "taken_at": datetime.now(UTC),
            },
        )

    def load(self, stream_id: str) -> Snapshot | None:
        row = self._connection.execute(_LOAD_SNAPSHOT, {"stream_id": stream_id}).first()
        if row is None:
            return None
        return Snapshot(row.stream_id, row.stream_type, row.version, row.state_version, row.state)

    def versions(self, stream_id: str) -> list[int]:
        return list(self._connection.execute(_VERSIONS, {"stream_id": stream_id}).scalars())

    def forget(self, stream_id: str, versions: Sequence[int]) -> None:
        if versions:
            self._connection.execute(_FORGET, {"stream_id": stream_id, "versions": list(versions)})


_OF_STREAM = snapshots.c.stream_id == bindparam("stream_id")
_LOAD_SNAPSHOT = select(snapshots).where(_OF_STREAM).order_by(snapshots.c.version.desc()).limit(1)
_VERSIONS = select(snapshots.c.version).where(_OF_STREAM).order_by(snapshots.c.version)
_FORGET = delete(snapshots).where(
    _OF_STREAM, snapshots.c.version.in_(bindparam("versions", expanding=True))
)


@lru_cache(maxsize=4)
def _snapshot_upsert(dialect: str) -> Executable:
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(snapshots)
    excluded = statement.excluded
    updates = {name: excluded[name] for name in ("stream_type", "state_version", "state")}
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[snapshots.c.stream_id, snapshots.c.version],
        set_={**updates, "taken_at": excluded.taken_at},
    )
    return upsert


class SqlAlchemyOutbox:
    """Undispatched events in position order; dispatching deletes the outbox row."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._pending = _pending_query(connection.dialect.name)

    def pending(self, limit: int = 500, after: int = 0) -> list[OutboxMessage]:
        rows = self._connection.execute(self._pending, {"limit": limit, "after": after})
        return [OutboxMessage(row["position"], stored_event(row)) for row in rows.mappings()]

    def mark_dispatched(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            self._connection.execute(_DISPATCHED, {"ids": list(outbox_ids)})


@lru_cache(maxsize=4)
def _pending_query(dialect: str) -> Select[Any]:
    """The events of the oldest outbox rows, found from the outbox side.

    A join of the two tables let PostgreSQL, on a fresh schema without statistics, sort or
    hash the whole events table for a handful of outbox rows (thousands of tuples per relay
    poll). Taking the ids first, as an array for `position = ANY(...)`, leaves the planner
    only index lookups on the events' primary key, whatever it believes about table sizes.
    """
    claimed = select(outbox.c.id).where(outbox.c.id > bindparam("after", type_=BigInteger))
    claimed = claimed.order_by(outbox.c.id).limit(bindparam("limit"))
    if dialect == "postgresql":
        # Concurrent relays split the backlog instead of queueing behind each other.
        claimed = claimed.with_for_update(skip_locked=True)
        wanted = events.c.position == any_(func.array(claimed.scalar_subquery()))
    else:
        wanted = events.c.position.in_(claimed)  # SQLite: rowid lookups either way
    return select(events).where(wanted).order_by(events.c.position)


_DISPATCHED = delete(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True)))
