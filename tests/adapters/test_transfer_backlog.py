"""The SQL transfer backlog: pending transfers from the transfer-work table, ends counted from
the events after a cursor (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from backend.adapters.outbound.sqlalchemy.transfer_work import (
    SqlAlchemyTransferBacklog,
    transfer_work,
)
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.ports.transfer_work import BacklogSample
from tests.adapters.conftest import StoreBackend

WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def append(backend: StoreBackend, stream: str, *types: str) -> int:
    """Append events of `types` to a new stream; the last one's position."""
    new = [
        NewEvent(f"{stream}-{n}", kind, 1, {}, EventMetadata(), WHEN)
        for n, kind in enumerate(types)
    ]
    with backend.uow() as uow:
        stored = uow.events.append(stream, "Transfer", 0, new)
        uow.commit()
    return stored[-1].position


def test_backlog_counts_pending_transfers_and_those_ended_since_the_cursor(
    sql_store_backend: StoreBackend,
) -> None:
    assert sql_store_backend.engine is not None
    with sql_store_backend.engine.begin() as connection:
        rows = [{"transfer_id": f"t-{n}", "requested_at": WHEN, "ready_at": WHEN} for n in range(3)]
        connection.execute(insert(transfer_work), rows)
    append(sql_store_backend, "t-a", "TransferRequested", "TransferCompleted")
    backlog = SqlAlchemyTransferBacklog(sql_store_backend.engine)
    first = backlog.sample(None)
    assert first == BacklogSample(pending=3, ended=0, cursor=2)
    append(sql_store_backend, "t-b", "TransferRequested", "TransferFailed")
    head = append(sql_store_backend, "t-c", "TransferRequested", "TransferCompleted")
    assert backlog.sample(first.cursor) == BacklogSample(pending=3, ended=2, cursor=head)
    assert backlog.sample(head).ended == 0
