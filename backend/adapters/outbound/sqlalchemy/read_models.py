"""SQLAlchemy read models: the projections' store (inside a unit of work) and the queries'
reader (on the read engine, which may be a replica).

Writes are batched: one executemany per table per page of events. Upserts keep the row
with the higher stream version (`ON CONFLICT ... DO UPDATE ... WHERE version < excluded`),
so concurrent writers of one row (inline projector, followers) settle on the newest fold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Select,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from backend.adapters.outbound.sqlalchemy.account_advance import advance_account
from backend.adapters.outbound.sqlalchemy.bulk import (
    guarded_upsert,
    insert_new,
    read_rows,
    read_with_details,
    write_batches,
)
from backend.adapters.outbound.sqlalchemy.engine import deferred
from backend.adapters.outbound.sqlalchemy.event_store import SqlAlchemyEventStore
from backend.adapters.outbound.sqlalchemy.event_store_tables import events, snapshots
from backend.adapters.outbound.sqlalchemy.read_model_tables import (
    LIVE,
    ReadModelTables,
    projection_checkpoints,
)
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.application.ports.event_store import Snapshot, StoredEvent
from backend.application.read_models import (
    AccountAdvance,
    AccountChanges,
    AccountSummary,
    DailyTotal,
    DayKey,
    TransactionRow,
    TransferSummary,
)

R = TypeVar("R")
#: A stream's snapshot with the time of its last event (`as_of` folds on from it).
_SNAPSHOT_BEFORE = select(snapshots, events.c.occurred_at).join(
    events,
    and_(events.c.stream_id == snapshots.c.stream_id, events.c.version == snapshots.c.version),
)
#: The newest one at or before the instant (filtered where it is used).
_SNAPSHOT_BEFORE_ORDER = (snapshots.c.version.desc(),)
_checkpoints = projection_checkpoints


def _row_factory(cls: type[R]) -> Callable[[RowMapping], R]:
    """Builds `cls` from a row whose columns are named like its fields (datetimes as UTC)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]

    def build(row: RowMapping) -> R:
        values = [row[name] for name in names]
        return cls(*(to_utc(v) if isinstance(v, datetime) else v for v in values))

    return build


_summary = _row_factory(AccountSummary)
_transaction = _row_factory(TransactionRow)
_daily = _row_factory(DailyTotal)
_transfer = _row_factory(TransferSummary)


def _snapshot(row: RowMapping) -> Snapshot:
    return Snapshot(row.stream_id, row.stream_type, row.version, row.state_version, row.state)


class SqlAlchemyCheckpointStore:
    """Projection checkpoints; on PostgreSQL a read locks the row until the transaction ends."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect.name

    def position(self, name: str) -> int:
        query = select(_checkpoints.c.position).where(_checkpoints.c.name == name)
        if self._dialect == "postgresql":
            # SQLite's IMMEDIATE transaction already excludes other writers; PostgreSQL needs
            # the row lock so that a follower and a rebuild's swap take turns.
            self._connection.execute(
                insert_new(self._dialect, _checkpoints), {"name": name, "position": 0}
            )
            query = query.with_for_update()
        return int(self._connection.execute(query).scalar() or 0)

    def save(self, name: str, position: int) -> None:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(_checkpoints)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"position": statement.excluded.position}
        )
        self._connection.execute(statement, {"name": name, "position": position})


class SqlAlchemyReadModelStore:
    """ReadModelStore on the unit of work's connection, over live or rebuild tables."""

    def __init__(self, connection: Connection, tables: ReadModelTables = LIVE) -> None:
        self._connection = connection
        self._dialect = connection.dialect.name
        self._tables = tables
        self.checkpoints = SqlAlchemyCheckpointStore(connection)

    # Every command's inline projection reads rows here: driver-level statements (bulk.py).
    def account_summaries(self, account_ids: Collection[str]) -> dict[str, AccountSummary]:
        where = {"account_id": account_ids}
        rows = read_rows(self._connection, self._tables.summaries, AccountSummary, where)
        return {row.account_id: row for row in rows}

    def daily_totals(self, keys: Collection[DayKey]) -> dict[DayKey, DailyTotal]:
        # Day rows of the accounts on the days: a superset of the pairs asked for.
        where: dict[str, Collection[object]] = {
            "account_id": {a for a, _ in keys},
            "day": {d for _, d in keys},
        }
        rows = read_rows(self._connection, self._tables.daily_totals, DailyTotal, where)
        return {key: row for row in rows if (key := (row.account_id, row.day)) in keys}

    def account_rows(
        self, account_ids: Collection[str], days: Collection[DayKey]
    ) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
        tables = self._tables
        summaries: dict[str, AccountSummary] = {}
        totals: dict[DayKey, DailyTotal] = {}
        rows = (tables.summaries, "account_id", account_ids)
        details = (tables.daily_totals, "day", {day for _, day in days})
        for summary_row, day_row in read_with_details(self._connection, rows, details):
            summary = AccountSummary(*summary_row)
            summaries[summary.account_id] = summary
            if day_row is not None and (key := (day_row[0], day_row[1])) in days:
                totals[key] = DailyTotal(*day_row)
        return summaries, totals

    def transfers(self, transfer_ids: Collection[str]) -> dict[str, TransferSummary]:
        where = {"transfer_id": transfer_ids}
        rows = read_rows(self._connection, self._tables.transfers, TransferSummary, where)
        return {row.transfer_id: row for row in rows}

    def save_transfers(self, rows: Sequence[TransferSummary]) -> None:
        write_batches(self._connection, [(guarded_upsert, self._tables.transfers, rows)])

    def save_account_changes(self, changes: AccountChanges) -> None:
        tables = self._tables
        write_batches(
            self._connection,
            [
                (guarded_upsert, tables.summaries, changes.summaries),
                (insert_new, tables.transactions, changes.transactions),
                (guarded_upsert, tables.daily_totals, changes.daily_totals),
            ],
        )

    def advance_account(self, advance: AccountAdvance) -> bool:
        return advance_account(self._connection, self._tables, advance)


class SqlAlchemyReadModelReader:
    """ReadModelReader on the read engine: short read-only transactions, never the write lock."""

    def __init__(self, engine: Engine, tables: ReadModelTables = LIVE) -> None:
        self._engine = deferred(engine)
        self._tables = tables

    def account(self, account_id: str) -> AccountSummary | None:
        table = self._tables.summaries
        found = self._all(select(table).where(table.c.account_id == account_id), _summary)
        return found[0] if found else None

    def accounts_of(
        self, owner_id: str, after_position: int | None, limit: int
    ) -> list[AccountSummary]:
        table = self._tables.summaries
        query = select(table).where(table.c.owner_id == owner_id)
        if after_position is not None:
            query = query.where(table.c.opened_position > after_position)
        return self._all(query.order_by(table.c.opened_position).limit(limit), _summary)

    def transactions_of(
        self, account_id: str, before_position: int | None, limit: int
    ) -> list[TransactionRow]:
        table = self._tables.transactions
        query = select(table).where(table.c.account_id == account_id)
        if before_position is not None:
            query = query.where(table.c.position < before_position)
        return self._all(query.order_by(table.c.position.desc()).limit(limit), _transaction)

    def daily_totals_of(self, account_id: str) -> list[DailyTotal]:
        table = self._tables.daily_totals
        query = select(table).where(table.c.account_id == account_id).order_by(table.c.day)
        return self._all(query, _daily)

    def transfer(self, transfer_id: str) -> TransferSummary | None:
        table = self._tables.transfers
        found = self._all(select(table).where(table.c.transfer_id == transfer_id), _transfer)
        return found[0] if found else None

    def accounts_and_transfers(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[dict[str, AccountSummary], dict[str, TransferSummary]]:
        with self._engine.connect() as connection:
            store = SqlAlchemyReadModelStore(connection, self._tables)
            return store.account_summaries(account_ids), store.transfers(transfer_ids)

    def transfers_visible_to(
        self,
        viewer_id: str,
        account_id: str | None,
        status: str | None,
        before_position: int | None,
        limit: int,
    ) -> list[TransferSummary]:
        table = self._tables.transfers
        query = select(table).where(
            or_(table.c.source_owner_id == viewer_id, table.c.target_owner_id == viewer_id)
        )
        if account_id is not None:
            query = query.where(
                or_(
                    table.c.source_account_id == account_id, table.c.target_account_id == account_id
                )
            )
        if status is not None:
            query = query.where(table.c.status == status)
        if before_position is not None:
            query = query.where(table.c.created_position < before_position)
        return self._all(query.order_by(table.c.created_position.desc()).limit(limit), _transfer)

    def stream(self, stream_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        with self._engine.connect() as connection:
            return SqlAlchemyEventStore(connection).read_stream(stream_id, after_version, limit)

    def snapshot_before(self, stream_id: str, moment: datetime) -> tuple[Snapshot, datetime] | None:
        at = (
            _SNAPSHOT_BEFORE.where(
                snapshots.c.stream_id == stream_id, events.c.occurred_at <= to_utc(moment)
            )  # in UTC: SQLite compares the naive UTC text it stores
            .order_by(*_SNAPSHOT_BEFORE_ORDER)
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(at).first()
        if row is None:
            return None
        snapshot = Snapshot(stream_id, row.stream_type, row.version, row.state_version, row.state)
        return snapshot, to_utc(row.occurred_at)

    def checkpoint(self, name: str) -> int:
        query = select(func.coalesce(func.max(_checkpoints.c.position), 0)).where(
            _checkpoints.c.name == name
        )
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def head_position(self) -> int:
        with self._engine.connect() as connection:
            return SqlAlchemyEventStore(connection).head_position()

    # ReadModelRows: full scans, for the audit.
    def all_summaries(self) -> list[AccountSummary]:
        return self._all(select(self._tables.summaries), _summary)

    def all_transactions(self) -> list[TransactionRow]:
        return self._all(select(self._tables.transactions), _transaction)

    def all_daily_totals(self) -> list[DailyTotal]:
        return self._all(select(self._tables.daily_totals), _daily)

    def all_transfers(self) -> list[TransferSummary]:
        return self._all(select(self._tables.transfers), _transfer)

    def all_snapshots(self) -> list[Snapshot]:
        return self._all(select(snapshots), _snapshot)

    def _all(self, query: Select[Any], build: Callable[[RowMapping], R]) -> list[R]:
        with self._engine.connect() as connection:
            return [build(row) for row in connection.execute(query).mappings()]
