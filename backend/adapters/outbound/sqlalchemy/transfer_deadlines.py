"""SQL index of pending transfers' deadlines, written in the transfers' own transactions.

Like the outbox it only holds the backlog: a row is inserted with TransferRequested and
deleted with TransferCompleted / TransferFailed, so `overdue` is a short index scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
)

from backend.adapters.outbound.sqlalchemy.engine import single_reads
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.transfer_deadlines import BacklogSample
from backend.domain.events import event_type, event_types
from backend.domain.transfer import TRANSFER_ENDS, TransferRequested

_REQUESTED = event_type(TransferRequested)
_TERMINAL = frozenset(event_types(TRANSFER_ENDS))

transfer_deadlines = Table(
    "transfer_deadlines",
    metadata,
    Column("transfer_id", String(128), primary_key=True),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Index("ix_transfer_deadlines_deadline", "deadline"),
)


class SqlAlchemyTransferDeadlines:
    """TransferDeadlines on the `transfer_deadlines` table, in a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def track(self, events: Sequence[StoredEvent]) -> None:
        """Runs as an inline projector: same connection, same transaction as the events."""
        for event in events:
            if event.type == _REQUESTED:
                deadline = to_utc(datetime.fromisoformat(event.data["deadline"]))
                row = {"transfer_id": event.stream_id, "deadline": deadline}
                self._connection.execute(insert(transfer_deadlines), row)
            elif event.type in _TERMINAL:
                done = transfer_deadlines.c.transfer_id == event.stream_id
                self._connection.execute(delete(transfer_deadlines).where(done))


class SqlAlchemyOverdueTransfers:
    """OverdueTransfers: a short index scan of the `transfer_deadlines` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        table = transfer_deadlines
        query = (
            select(table.c.transfer_id)
            .where(table.c.deadline < to_utc(now))
            .order_by(table.c.deadline)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return list(connection.execute(query).scalars())


#: A cursor past every position: the first sample counts no ended transfers.
_NO_CURSOR = 2**62
_BACKLOG = select(
    select(func.count()).select_from(transfer_deadlines).scalar_subquery().label("pending"),
    select(func.coalesce(func.max(events.c.position), 0)).scalar_subquery().label("head"),
    select(func.count())
    .where(events.c.position > bindparam("after"), events.c.type.in_(sorted(_TERMINAL)))
    .scalar_subquery()
    .label("ended"),
)


class SqlAlchemyTransferBacklog:
    """TransferBacklog in one statement: the deadline index's rows are the pending transfers;
    the terminal transfer events after the previous sample's head position, those that ended
    (a short primary-key range of the events table)."""

    def __init__(self, engine: Engine) -> None:
        self._reads = single_reads(engine)

    def sample(self, after: int | None) -> BacklogSample:
        with self._reads.connect() as connection:
            cursor = _NO_CURSOR if after is None else after
            row = connection.execute(_BACKLOG, {"after": cursor}).one()
        return BacklogSample(row.pending, row.ended, row.head)
