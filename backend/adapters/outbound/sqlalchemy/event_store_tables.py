"""Core tables of the event store: events, snapshots and the transactional outbox.

The outbox deletes a row once it is dispatched (instead of stamping `dispatched_at`): the
events table already is the permanent record, so the outbox only ever holds the backlog and
`pending()` stays a short primary-key scan without a partial index or periodic purging.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from backend.adapters.outbound.sqlalchemy.schema import metadata

#: Global position: BIGSERIAL on PostgreSQL; `INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite,
#: which never reuses the id of a deleted last row (STACK.md gotcha 17).
POSITION = BigInteger().with_variant(Integer(), "sqlite")
JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")
ID_LENGTH = 128
NAME_LENGTH = 100
HASH_LENGTH = 64

events = Table(
    "events",
    metadata,
    Column("position", POSITION, primary_key=True, autoincrement=True),
    Column("event_id", String(ID_LENGTH), nullable=False, unique=True),
    Column("stream_id", String(ID_LENGTH), nullable=False),
    Column("stream_type", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(NAME_LENGTH), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", JSON_DOCUMENT, nullable=False),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # The stream's hash chain at this event (backend/application/event_hash.py). The default
    # only lets a writer that bypasses the store insert at all: its "" breaks the chain.
    Column("hash", String(HASH_LENGTH), nullable=False, server_default=""),
    # The optimistic-concurrency guard; also the index that serves stream reads.
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    sqlite_autoincrement=True,
)

# Several per stream (application/snapshot_retention.py): the latest is what loads start from.
snapshots = Table(
    "snapshots",
    metadata,
    Column("stream_id", String(ID_LENGTH), primary_key=True),
    Column("stream_type", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, primary_key=True),
    Column("state_version", Integer, nullable=False),
    Column("state", JSON_DOCUMENT, nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id",
        POSITION,
        ForeignKey("events.position"),
        primary_key=True,
        autoincrement=False,
    ),
)
