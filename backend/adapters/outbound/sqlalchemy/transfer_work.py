"""SQL transfer work: the `transfer_work` table of pending transfers, written in the transfers'
own transactions, claimed by the transfer engines, and counted by admission.

Like the outbox it only holds the backlog: a row is inserted with TransferRequested and
deleted with TransferCompleted / TransferFailed. Engines claim the oldest ready rows with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (several engines split the backlog without waiting on
each other) and under the write lock on SQLite, pushing each claimed row's `ready_at` past its
lease, so a claim holds no lock while its transfers run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from backend.adapters.outbound.sqlalchemy.driver import fetch_all
from backend.adapters.outbound.sqlalchemy.engine import single_reads
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.transfer_work import (
    BacklogSample,
    ClaimedTransfer,
    StuckTransfer,
    lease_for,
)
from backend.domain.events import event_type, event_types
from backend.domain.transfer import TRANSFER_ENDS, TransferRequested

_REQUESTED = event_type(TransferRequested)
_TERMINAL = frozenset(event_types(TRANSFER_ENDS))

transfer_work = Table(
    "transfer_work",
    metadata,
    Column("transfer_id", String(128), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("ready_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_transfer_work_ready_at", "ready_at"),
)

_LATEST_EVENT = (
    select(events.c.event_id)
    .where(events.c.stream_id == transfer_work.c.transfer_id)
    .order_by(events.c.version.desc())
    .limit(1)
    .scalar_subquery()
)
_READY = transfer_work.c.ready_at <= bindparam("now")
_CANDIDATES = (
    select(
        transfer_work.c.transfer_id,
        transfer_work.c.requested_at,
        transfer_work.c.attempts,
        _LATEST_EVENT.label("cause"),
    )
    .where(_READY)
    .order_by(transfer_work.c.ready_at)
    .limit(bindparam("limit"))
)
_ANY_READY = select(transfer_work.c.transfer_id).where(_READY).limit(1)
_LEASE = (
    update(transfer_work)
    .where(transfer_work.c.transfer_id == bindparam("id"))
    .values(ready_at=bindparam("until"), attempts=bindparam("attempts"))
)


class SqlAlchemyTransferWork:
    """TransferWork on the `transfer_work` table, in a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def claim(self, now: datetime, limit: int) -> list[ClaimedTransfer]:
        query = _CANDIDATES
        if self._connection.dialect.name == "postgresql":  # SQLite: the write lock is held
            query = query.with_for_update(skip_locked=True, of=transfer_work)
        rows = self._connection.execute(query, {"now": to_utc(now), "limit": limit}).all()
        return [
            ClaimedTransfer(row.transfer_id, row.cause, to_utc(row.requested_at), row.attempts)
            for row in rows
        ]

    def track(self, events: Sequence[StoredEvent]) -> None:
        """Runs as an inline projector: same connection, same transaction as the events."""
        added = [
            {"transfer_id": e.stream_id, "requested_at": e.occurred_at, "ready_at": e.occurred_at}
            for e in events
            if e.type == _REQUESTED
        ]
        ended = [e.stream_id for e in events if e.type in _TERMINAL]
        if added:
            self._connection.execute(insert(transfer_work), added)
        if ended:
            done = transfer_work.c.transfer_id.in_(ended)
            self._connection.execute(delete(transfer_work).where(done))


class SqlAlchemyTransferClaims:
    """TransferClaims: one short transaction per claim (a select of the candidates, locked and
    skipped on PostgreSQL, and one update of their leases)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = single_reads(engine)
        self._skip_locked = engine.dialect.name == "postgresql"

    def ready(self, now: datetime) -> bool:
        with self._reads.connect() as connection:
            return connection.execute(_ANY_READY, {"now": to_utc(now)}).first() is not None

    def stuck(self, min_attempts: int, limit: int) -> list[StuckTransfer]:
        table = transfer_work
        query = (
            select(table.c.transfer_id, table.c.attempts, table.c.ready_at)
            .where(table.c.attempts >= min_attempts)
            .order_by(table.c.attempts.desc(), table.c.transfer_id)
            .limit(limit)
        )
        with self._reads.connect() as connection:
            rows = connection.execute(query).all()
        return [StuckTransfer(r.transfer_id, r.attempts, to_utc(r.ready_at)) for r in rows]

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[ClaimedTransfer]:
        query = _CANDIDATES
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True, of=transfer_work)
        with self._engine.begin() as connection:
            rows = connection.execute(query, {"now": to_utc(now), "limit": limit}).all()
            if not rows:
                return []
            leases = [
                {"id": row.transfer_id, "attempts": row.attempts + 1,
                 "until": to_utc(now + lease_for(lease, row.attempts + 1))}
                for row in rows
            ]  # fmt: skip
            connection.execute(_LEASE, leases)
        return [
            ClaimedTransfer(row.transfer_id, row.cause, to_utc(row.requested_at), row.attempts + 1)
            for row in rows
        ]


#: A cursor past every position: the first sample counts no ended transfers.
_NO_CURSOR = 2**62
_BACKLOG = select(
    select(func.count()).select_from(transfer_work).scalar_subquery().label("pending"),
    select(func.coalesce(func.max(events.c.position), 0)).scalar_subquery().label("head"),
    select(func.count())
    .where(events.c.position > bindparam("after"), events.c.type.in_(sorted(_TERMINAL)))
    .scalar_subquery()
    .label("ended"),
)


class SqlAlchemyTransferBacklog:
    """TransferBacklog in one statement: the transfer-work rows are the pending transfers;
    the terminal transfer events after the previous sample's head position, those that ended
    (a short primary-key range of the events table)."""

    def __init__(self, engine: Engine) -> None:
        self._reads = single_reads(engine)

    def sample(self, after: int | None) -> BacklogSample:
        with self._reads.connect() as connection:
            cursor = _NO_CURSOR if after is None else after
            row = connection.execute(_BACKLOG, {"after": cursor}).one()
        return BacklogSample(row.pending, row.ended, row.head)


#: PostgreSQL: the engines' leadership, one session-level advisory lock per schema.
_LEAD_KEY = "hashtextextended(current_schema() || '/engine', 0)"
_TRY_LEAD = f"SELECT pg_try_advisory_lock({_LEAD_KEY})"
_UNLEAD = f"SELECT pg_advisory_unlock({_LEAD_KEY})"


class SqlAlchemyEngineLeadership:
    """EngineLeadership: on PostgreSQL a session-level advisory lock held by a connection of
    its own for as long as the engine leads (the server drops it with the connection when the
    process dies); SQLite has one server process, which always leads."""

    def __init__(self, engine: Engine, retry_every: float = 1.0) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._postgres = engine.dialect.name == "postgresql"
        self._held: Connection | None = None
        #: A standby asks at most this often (its loop is woken by every commit).
        self._retry_every = retry_every
        self._asked_at = -retry_every

    def lead(self) -> bool:
        if not self._postgres or self._held is not None:
            return True
        if time.monotonic() - self._asked_at < self._retry_every:
            return False
        self._asked_at = time.monotonic()
        connection = self._engine.connect()
        try:
            leads = bool(fetch_all(connection, _TRY_LEAD, ())[0][0])
        except Exception:
            connection.close()
            raise
        if leads:
            self._held = connection
        else:
            connection.close()
        return leads

    def release(self) -> None:
        held, self._held = self._held, None
        self._asked_at = -self._retry_every  # lead again at the next ask
        if held is None:
            return
        try:
            fetch_all(held, _UNLEAD, ())
            held.close()
        except Exception:  # the session is gone or broken: the lock went (or goes) with it
            held.invalidate()
