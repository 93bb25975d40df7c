"""Fault injection on the real transfer engine: a unit of work whose event store makes the
process "die" once a budget of appended events is spent, so an engine stops between two rounds
(or inside one) just as one whose process was killed there would (that round's transaction
rolled back, the rounds before it committed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from backend.application.ports.event_feed import EventFeedStore
from backend.application.ports.event_store import (
    EventStore,
    NewEvent,
    SnapshotStore,
    StoredEvent,
    StreamAppend,
    StreamHistory,
)
from backend.application.ports.idempotency import IdempotencyKeys
from backend.application.ports.outbox import Outbox
from backend.application.ports.read_models import ReadModelStore
from backend.application.ports.transfer_work import TransferWork
from backend.application.ports.unit_of_work import UnitOfWork


class ProcessDied(BaseException):
    """The injected fault: the process running the engine died before this transaction
    committed (a BaseException, so that nothing in the process survives it, like a kill)."""


class AppendBudget:
    """How many more events may be appended before the process dies (no limit unless armed)."""

    def __init__(self) -> None:
        self._left: int | None = None

    @contextmanager
    def dying_after(self, events: int) -> Iterator[None]:
        """Within the block, the append that would go past `events` events kills the process."""
        self._left = events
        try:
            yield
        finally:
            self._left = None

    def spend(self, count: int) -> None:
        """Count `count` events about to be appended; raise ProcessDied past the budget."""
        if self._left is None:
            return
        if count > self._left:
            self._left = None  # one death: whatever runs next runs in a new process
            raise ProcessDied("killed between two steps of the saga")
        self._left -= count


class CrashingEventStore:
    """The inner event store, its appends charged to the budget first."""

    def __init__(self, inner: EventStore, budget: AppendBudget) -> None:
        self._inner = inner
        self._budget = budget

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
        self._budget.spend(len(events))
        return self._inner.append(
            stream_id, stream_type, expected_version, events, previous_hash, publish=publish
        )

    def append_streams(
        self, appends: Sequence[StreamAppend], *, publish: bool = True
    ) -> list[StoredEvent]:
        self._budget.spend(sum(len(save.events) for save in appends))
        return self._inner.append_streams(appends, publish=publish)

    def queue_for(self, stream_id: str) -> None:
        self._inner.queue_for(stream_id)

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        return self._inner.read_stream(stream_id, after_version, limit)

    def history(self, stream_id: str, *, from_snapshot: bool = True) -> StreamHistory:
        return self._inner.history(stream_id, from_snapshot=from_snapshot)

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        return self._inner.read_all(after_position, limit)

    def head_position(self) -> int:
        return self._inner.head_position()


class CrashingUnitOfWork:
    """The inner unit of work with a CrashingEventStore; everything else is the inner one's."""

    def __init__(self, inner: UnitOfWork, budget: AppendBudget) -> None:
        self._inner = inner
        self._events = CrashingEventStore(inner.events, budget)

    @property
    def events(self) -> EventStore:
        return self._events

    @property
    def snapshots(self) -> SnapshotStore:
        return self._inner.snapshots

    @property
    def outbox(self) -> Outbox:
        return self._inner.outbox

    @property
    def read_models(self) -> ReadModelStore:
        return self._inner.read_models

    @property
    def idempotency_keys(self) -> IdempotencyKeys:
        return self._inner.idempotency_keys

    @property
    def transfer_work(self) -> TransferWork:
        return self._inner.transfer_work

    @property
    def feed(self) -> EventFeedStore:
        return self._inner.feed

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()
