"""SQLAlchemy unit of work: one connection and one transaction per command attempt."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, RootTransaction

from backend.adapters.outbound.sqlalchemy.event_feed import SqlAlchemyEventFeedStore
from backend.adapters.outbound.sqlalchemy.event_store import SqlAlchemyEventStore
from backend.adapters.outbound.sqlalchemy.idempotency_store import SqlAlchemyIdempotencyKeys
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelStore
from backend.adapters.outbound.sqlalchemy.snapshots_outbox import (
    SqlAlchemyOutbox,
    SqlAlchemySnapshotStore,
)
from backend.adapters.outbound.sqlalchemy.transfer_work import SqlAlchemyTransferWork


class SqlAlchemyUnitOfWork:
    """Opens a connection and a transaction on enter; every store shares that connection.

    On SQLite the engine begins transactions IMMEDIATE, so the write lock is taken on enter;
    on PostgreSQL the event store takes the global advisory lock before its first insert.
    """

    connection: Connection
    events: SqlAlchemyEventStore
    snapshots: SqlAlchemySnapshotStore
    outbox: SqlAlchemyOutbox
    read_models: SqlAlchemyReadModelStore
    idempotency_keys: SqlAlchemyIdempotencyKeys
    transfer_work: SqlAlchemyTransferWork
    feed: SqlAlchemyEventFeedStore

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._transaction: RootTransaction | None = None

    def __enter__(self) -> Self:
        self.connection = self._engine.connect()
        try:
            self._transaction = self.connection.begin()
            self._attach(self.connection)
        except BaseException:
            self.connection.close()
            raise
        return self

    def _attach(self, connection: Connection) -> None:
        """Build the stores on the transaction's connection; further stores go here too."""
        self.events = SqlAlchemyEventStore(connection)
        self.snapshots = SqlAlchemySnapshotStore(connection)
        self.outbox = SqlAlchemyOutbox(connection)
        self.read_models = SqlAlchemyReadModelStore(connection)
        self.idempotency_keys = SqlAlchemyIdempotencyKeys(connection)
        self.transfer_work = SqlAlchemyTransferWork(connection)
        self.feed = SqlAlchemyEventFeedStore(connection)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.connection.close()

    def commit(self) -> None:
        if self._transaction is None or not self._transaction.is_active:
            raise RuntimeError("no open transaction to commit")
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()
