"""Events: the hash chain of each stream (tamper evidence), backfilled for existing rows.

Revision ID: 0006_event_hash
Revises: 0005_refresh_token_expiry
Create Date: 2026-12-07

Existing events get their chain here, stream by stream in version order, with the same
canonical form the event store uses when it appends (backend/application/event_hash.py).
The rows are read and updated in batches, so the backfill's memory stays bounded by one
batch and the heads of the streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from backend.application.event_hash import GENESIS, canonical_form, chain_hash
from backend.application.ports.event_store import EventMetadata

revision: str = "0006_event_hash"
down_revision: str | Sequence[str] | None = "0005_refresh_token_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
_COLUMNS = ("position", "stream_id", "version", "type", "schema_version", "data", "metadata")
_events = sa.table("events", *(sa.column(name) for name in (*_COLUMNS, "occurred_at", "hash")))


def upgrade() -> None:
    # SQLite adds a NOT NULL column only with a default; "" is what a non-chained row holds.
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=False, server_default=""))
    connection = op.get_bind()
    update = sa.update(_events).where(_events.c.position == sa.bindparam("at"))
    batch: list[dict[str, Any]] = []
    for position, chained in _chain(connection):
        batch.append({"at": position, "hash": chained})
        if len(batch) == BATCH:
            connection.execute(update.values(hash=sa.bindparam("hash")), batch)
            batch = []
    if batch:
        connection.execute(update.values(hash=sa.bindparam("hash")), batch)


def downgrade() -> None:
    op.drop_column("events", "hash")


def _chain(connection: sa.Connection) -> Iterator[tuple[int, str]]:
    """(position, hash) of every event, streams in turn, each in version order."""
    heads: tuple[str, str] = ("", GENESIS)
    ordered = sa.select(_events).order_by(_events.c.stream_id, _events.c.version)
    for row in connection.execute(ordered.execution_options(yield_per=BATCH)).mappings():
        previous = heads[1] if heads[0] == row["stream_id"] else GENESIS
        chained = chain_hash(previous, _canonical(row))
        heads = (row["stream_id"], chained)
        yield row["position"], chained


def _canonical(row: sa.RowMapping) -> bytes:
    # Untyped columns: SQLite hands back JSON and datetimes as text, psycopg parsed values.
    data, metadata, moment = row["data"], row["metadata"], row["occurred_at"]
    data = json.loads(data) if isinstance(data, str) else data
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return canonical_form(
        row["stream_id"], row["version"], row["type"], row["schema_version"], data,
        EventMetadata.from_dict(metadata).to_dict(), moment,
    )  # fmt: skip
