"""Event store benchmark: appends against raw SQLAlchemy Core; load time against stream size.

Append: one-event transactions through SqlAlchemyUnitOfWork + SqlAlchemyEventStore (event row,
outbox row, the global append lock) against raw Core inserts of the same rows in the same
transaction shape (BEGIN IMMEDIATE on SQLite; `pg_advisory_xact_lock` on PostgreSQL, plus the
event INSERT ... RETURNING and the outbox INSERT), alternating, median of the repetitions.
Load: Repository.get of an account with 100,000 events ÷ one with 10 (snapshots on), and,
for information, load times without snapshots.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.event_store import APPEND_LOCK_SQL
from backend.adapters.outbound.sqlalchemy.event_store_tables import events, outbox, snapshots
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.repository import Repository
from backend.domain.account import Account
from backend.domain.money import Money

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPS = 5
STREAMS = 50
APPEND_COUNT = {"sqlite": 2000, "postgres": 400}
WARMUP = {"sqlite": 500, "postgres": 100}
LOAD_SIZES = (10, 1_000, 100_000)
BATCH = 1_000
META = EventMetadata(correlation_id="bench", user_id="bench")

Figures = dict[str, float]


# -- append ---------------------------------------------------------------------------------


class AppendWorkload:
    """One-event appends spread round-robin over a few streams, ids unique per run."""

    def __init__(self) -> None:
        self.versions = [0] * STREAMS
        self.prefix = uuid.uuid4().hex[:8]
        self.count = 0

    def next(self) -> tuple[str, int, NewEvent]:
        """(stream id, expected version, event) of the next append."""
        self.count += 1
        stream = self.count % STREAMS
        expected, self.versions[stream] = self.versions[stream], self.versions[stream] + 1
        data = {"amount": 1050, "currency": "EUR", "reference": None}
        event = NewEvent(
            f"{self.prefix}-{self.count}", "MoneyDeposited", 2, data, META, datetime.now(UTC)
        )
        return f"{self.prefix}-s{stream}", expected, event

    def batch(self, count: int) -> list[tuple[str, int, NewEvent]]:
        return [self.next() for _ in range(count)]


def adapter_appends(engine: Engine, work: list[tuple[str, int, NewEvent]]) -> float:
    """Appends per second through the unit of work and the event store adapter."""
    started = time.perf_counter()
    for stream_id, expected, event in work:
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.events.append(stream_id, "account", expected, [event])
            uow.commit()
    return len(work) / (time.perf_counter() - started)


def raw_appends(engine: Engine, work: list[tuple[str, int, NewEvent]]) -> float:
    """The same rows and transaction shape, written with plain SQLAlchemy Core."""
    rows = [_raw_row(stream_id, expected + 1, event) for stream_id, expected, event in work]
    lock = text(APPEND_LOCK_SQL)
    postgres = engine.dialect.name == "postgresql"
    insert_event, insert_outbox = insert(events).returning(events.c.position), insert(outbox)
    started = time.perf_counter()
    for row in rows:
        with engine.begin() as connection:
            if postgres:
                connection.execute(lock)
            position = connection.execute(insert_event, row).scalar_one()
            connection.execute(insert_outbox, {"id": position})
    return len(rows) / (time.perf_counter() - started)


def _raw_row(stream_id: str, version: int, event: NewEvent) -> dict[str, Any]:
    return {
        "event_id": f"raw-{event.event_id}",
        "stream_id": f"raw-{stream_id}",
        "stream_type": "account",
        "version": version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata.to_dict(),
        "occurred_at": event.occurred_at,
    }


def append_figures(backend: str, engine: Engine) -> Figures:
    """Warm up both paths, then alternate them REPS times; medians and their ratio."""
    work, count = AppendWorkload(), APPEND_COUNT[backend]
    warm = work.batch(WARMUP[backend])
    adapter_appends(engine, warm)
    raw_appends(engine, warm)
    paths = {"adapter": adapter_appends, "raw": raw_appends}
    rates: dict[str, list[float]] = {"adapter": [], "raw": []}
    for rep in range(REPS):
        batch = work.batch(count)
        # Alternate which path goes first, so drift in machine load favours neither.
        for name in ("adapter", "raw") if rep % 2 == 0 else ("raw", "adapter"):
            rates[name].append(paths[name](engine, batch))
    per_s, raw_per_s = statistics.median(rates["adapter"]), statistics.median(rates["raw"])
    return {
        f"event_store.{backend}.append_per_s": per_s,
        f"event_store.{backend}.raw_append_per_s": raw_per_s,
        f"event_store.{backend}.append_ratio": per_s / raw_per_s,
    }


# -- load -----------------------------------------------------------------------------------


def repository(uow: UnitOfWork, snapshot_every: int = 100) -> Repository[Account]:
    return Repository(Account, uow, default_codec(), SystemClock(), UuidGenerator(), snapshot_every)


def build_account(engine: Engine, size: int) -> str:
    """An account with `size` events: batched saves (snapshots every 100 on the way), and
    the last 10 events appended past the last snapshot so a load replays a few events."""
    account = Account.open(f"acc-{size}-{uuid.uuid4().hex[:8]}", "bench", "Bench", "EUR")
    tail = min(10, size - 1)
    while account.version + len(account.pending_events) < size:
        account.deposit(Money(100, "EUR"))
        done = account.version + len(account.pending_events)
        if len(account.pending_events) == BATCH or done in (size - tail, size):
            with SqlAlchemyUnitOfWork(engine) as uow:
                every = 100 if done <= size - tail else 10**9  # no snapshot for the tail
                repository(uow, every).save(account, META)
                uow.commit()
    return account.id


class _NoSnapshots:
    """A snapshot store that has none, to time a full replay."""

    def load(self, stream_id: str) -> None:
        return None

    def save(self, snapshot: object) -> None:
        return None


def time_load(engine: Engine, account_id: str, *, snapshots: bool, loads: int) -> float:
    """Median milliseconds of one Repository.get in its own unit of work."""
    samples = []
    for _ in range(loads):
        started = time.perf_counter()
        with SqlAlchemyUnitOfWork(engine) as uow:
            view = (
                uow if snapshots else SimpleNamespace(events=uow.events, snapshots=_NoSnapshots())
            )
            loaded = repository(cast(UnitOfWork, view)).get(account_id)
        samples.append((time.perf_counter() - started) * 1000)
        assert loaded is not None
    return statistics.median(samples)


def load_figures(engine: Engine) -> Figures:
    accounts = {size: build_account(engine, size) for size in LOAD_SIZES}
    for size in LOAD_SIZES:  # warm-up: caches, statement compilation
        time_load(engine, accounts[size], snapshots=True, loads=3)
    small = time_load(engine, accounts[10], snapshots=True, loads=300)
    large = time_load(engine, accounts[100_000], snapshots=True, loads=300)
    figures = {
        "event_store.load_ms_10": small,
        "event_store.load_ms_100k": large,
        "event_store.load_ratio_100k_vs_10": large / small,
    }
    for size, loads in zip(LOAD_SIZES, (300, 30, 1), strict=True):
        ms = time_load(engine, accounts[size], snapshots=False, loads=loads)
        figures[f"event_store.sqlite.load_ms_no_snapshots_{size}"] = ms
    return figures


# -- databases ------------------------------------------------------------------------------


def create_event_store_schema(engine: Engine) -> None:
    """The tables of migration 0001 (the same definitions Alembic checks against)."""
    metadata.create_all(engine, tables=[events, snapshots, outbox])


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="hexbank-bench-") as directory:
        engine = create_engine_for(f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        try:
            create_event_store_schema(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine(base_url: str = POSTGRES_URL) -> Iterator[Engine | None]:
    """An engine on a throwaway schema (dropped afterwards), or None when PG is unreachable."""
    admin = create_engine(base_url, poolclass=NullPool, connect_args={"connect_timeout": 2})
    schema = f"hexbank_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # unreachable or refused: the SQLite figures still count
        print(
            f"PostgreSQL unreachable at {base_url} ({type(error).__name__}): skipping its figures"
        )
        yield None
        return
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine_for(url.render_as_string(hide_password=False))
    try:
        create_event_store_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def print_report(figures: Figures) -> None:
    rows = [
        ("SQLite appends/s (adapter | raw Core | ratio)", "sqlite", "append"),
        ("PostgreSQL appends/s (adapter | raw Core | ratio)", "postgres", "append"),
    ]
    print("\nevent store")
    for label, backend, _ in rows:
        key = f"event_store.{backend}"
        if f"{key}.append_per_s" in figures:
            print(
                f"  {label:<52} {figures[f'{key}.append_per_s']:>9,.0f} | "
                f"{figures[f'{key}.raw_append_per_s']:>9,.0f} | "
                f"{figures[f'{key}.append_ratio']:.2f}  (goal >= 0.7)"
            )
    print(
        f"  {'load 100k ÷ load 10, snapshots on':<52} "
        f"{figures['event_store.load_ratio_100k_vs_10']:.2f}  (goal <= 2)"
    )
    for key in sorted(k for k in figures if "load_ms" in k):
        print(f"  {key:<52} {figures[key]:>9,.2f} ms")


def run() -> Figures:
    """Every figure of this benchmark (PostgreSQL ones only when it is reachable)."""
    figures: Figures = {}
    with sqlite_engine() as engine:
        figures.update(append_figures("sqlite", engine))
        figures.update(load_figures(engine))
    with postgres_engine() as pg:
        if pg is not None:
            figures.update(append_figures("postgres", pg))
    print_report(figures)
    return figures


if __name__ == "__main__":
    run()
