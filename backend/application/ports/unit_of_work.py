"""The unit-of-work port: one transaction, and every store that writes inside it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from backend.application.ports.event_feed import EventFeedStore
from backend.application.ports.event_store import EventStore, SnapshotStore
from backend.application.ports.idempotency import IdempotencyKeys
from backend.application.ports.outbox import Outbox
from backend.application.ports.read_models import ReadModelStore
from backend.application.ports.transfer_work import TransferWork


class UnitOfWork(Protocol):
    """One database transaction: everything a command writes commits together or not at all."""

    # Read-only properties, not plain attributes: a protocol attribute would be invariant, and
    # adapters rightly expose their own concrete store types here.
    @property
    def events(self) -> EventStore:
        """The event store, writing in this transaction."""
        ...

    @property
    def snapshots(self) -> SnapshotStore:
        """The snapshot store, writing in this transaction."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox, read and marked in this transaction."""
        ...

    @property
    def read_models(self) -> ReadModelStore:
        """The read-model store, writing in this transaction (the inline projector's)."""
        ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys:
        """Idempotency-key responses, written in this transaction."""
        ...

    @property
    def transfer_work(self) -> TransferWork:
        """The pending transfers (the engine's work), written in this transaction."""
        ...

    @property
    def feed(self) -> EventFeedStore:
        """The public event feed, its webhooks and their deliveries, in this transaction."""
        ...

    def __enter__(self) -> Self:
        """Begin the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Make every write of this transaction durable and visible at once."""
        ...

    def rollback(self) -> None:
        """Undo every write not yet committed."""
        ...


#: Builds a fresh unit of work: one per request, per job, per retry.
UnitOfWorkFactory = Callable[[], UnitOfWork]
