"""Projection rebuild benchmark: full rebuild throughput beside reading the same events.

A realistic log (accounts opened, deposits and withdrawals, completed transfers of seven
events each, spread over weeks) is written straight into the events table; then
`SqlAlchemyProjectionRebuilder.rebuild()` replays it into shadow tables and swaps them in.
The baseline reads the same events, page by page through the event store adapter, without
applying them, so the ratio shows what projecting costs on top of reading.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from backend.adapters.outbound.sqlalchemy.event_store import SqlAlchemyEventStore
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE, projection_checkpoints
from backend.adapters.outbound.sqlalchemy.rebuild import SqlAlchemyProjectionRebuilder
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.application.event_codec import default_codec
from backend.application.projections import default_projections
from backend.domain.account import (
    AccountOpened,
    FundsHeld,
    HoldCaptured,
    MoneyCredited,
    MoneyDeposited,
    MoneyWithdrawn,
)
from backend.domain.events import DomainEvent
from backend.domain.transfer import (
    TransferCompleted,
    TransferFundsHeld,
    TransferRequested,
    TransferTargetCredited,
)
from bench.bench_event_store import postgres_engine, sqlite_engine

EVENTS = {"sqlite": 60_000, "postgres": 40_000}
ACCOUNTS = 1_000
REPS = 3
PAGE = 1_000
GOALS = {"sqlite": 20_000, "postgres": 10_000}
META = {"correlation_id": "bench", "causation_id": None, "user_id": "bench", "request_id": None}

Figures = dict[str, float]
Change = tuple[str, str, DomainEvent]  # (stream id, stream type, event)


class Log:
    """Generates the events of a small bank, in commit order, with their stream versions."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        self.versions: dict[str, int] = {}
        self.moment = datetime(2026, 10, 1, tzinfo=UTC)
        self.accounts = [f"acc-{uuid.uuid4().hex[:12]}" for _ in range(ACCOUNTS)]

    def changes(self, count: int) -> Iterator[Change]:
        for n, account in enumerate(self.accounts):
            yield account, "account", AccountOpened(f"owner-{n % 300}", "Main", "EUR")
        produced = len(self.accounts)
        while produced < count:
            batch = list(self._operation())
            produced += len(batch)
            yield from batch

    def _operation(self) -> Iterator[Change]:
        source, target = self.random.sample(self.accounts, 2)
        roll = self.random.random()
        if roll < 0.55:
            yield source, "account", MoneyDeposited(self.random.randint(100, 90_000), "EUR", "pay")
        elif roll < 0.75:
            yield source, "account", MoneyWithdrawn(self.random.randint(1, 50), "EUR", None)
        else:
            yield from self._transfer(source, target, self.random.randint(1, 50))

    def _transfer(self, source: str, target: str, amount: int) -> Iterator[Change]:
        tid, deadline = f"t-{uuid.uuid4().hex[:12]}", self.moment + timedelta(minutes=5)
        yield (
            tid,
            "transfer",
            TransferRequested(source, target, amount, "EUR", "rent", "owner", deadline),
        )
        yield source, "account", FundsHeld(tid, amount, "EUR")
        yield tid, "transfer", TransferFundsHeld()
        yield target, "account", MoneyCredited(tid, amount, "EUR", source, "rent")
        yield tid, "transfer", TransferTargetCredited()
        yield source, "account", HoldCaptured(tid, amount, "EUR", target, "rent")
        yield tid, "transfer", TransferCompleted()

    def rows(self, count: int) -> Iterator[dict[str, Any]]:
        codec = default_codec()
        for stream_id, stream_type, event in self.changes(count):
            self.moment += timedelta(seconds=40)
            version = self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
            type_name, schema_version, data = codec.encode(event)
            yield {
                "event_id": uuid.uuid4().hex, "stream_id": stream_id, "stream_type": stream_type,
                "version": version, "type": type_name, "schema_version": schema_version,
                "data": data, "metadata": META, "occurred_at": self.moment,
            }  # fmt: skip


def write_log(engine: Engine, count: int) -> int:
    """Bulk-insert the log; returns the number of events."""
    rows = list(Log().rows(count))
    with engine.begin() as connection:
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(events), rows[start : start + 5_000])
    return len(rows)


def read_all(engine: Engine) -> float:
    """Baseline: events/s reading the whole log in pages, applying nothing."""
    started, position, count = time.perf_counter(), 0, 0
    while True:
        with engine.begin() as connection:
            page = SqlAlchemyEventStore(connection).read_all(position, PAGE)
        if not page:
            return count / (time.perf_counter() - started)
        count, position = count + len(page), page[-1].position


def rebuild(engine: Engine) -> float:
    rebuilder = SqlAlchemyProjectionRebuilder(engine, default_projections(default_codec()), PAGE)
    return rebuilder.rebuild().events_per_second


def figures_for(backend: str, engine: Engine) -> Figures:
    read_tables = [LIVE.summaries, LIVE.transactions, LIVE.daily_totals, LIVE.transfers]
    metadata.create_all(engine, tables=[*read_tables, projection_checkpoints])
    write_log(engine, EVENTS[backend])
    read_all(engine)  # warm-up
    rebuild(engine)
    reads, rebuilds = [], []
    for _ in range(REPS):
        reads.append(read_all(engine))
        rebuilds.append(rebuild(engine))
    key = f"projections.{backend}"
    read, rebuilt = statistics.median(reads), statistics.median(rebuilds)
    return {
        f"{key}.rebuild_events_per_s": rebuilt,
        f"{key}.read_events_per_s": read,
        f"{key}.rebuild_ratio_vs_read": rebuilt / read,
    }


def print_report(figures: Figures) -> None:
    print("\nprojections: full rebuild (events/s) | reading the same events | ratio")
    for backend, goal in GOALS.items():
        key = f"projections.{backend}"
        if f"{key}.rebuild_events_per_s" in figures:
            print(
                f"  {backend:<9} {figures[f'{key}.rebuild_events_per_s']:>9,.0f} | "
                f"{figures[f'{key}.read_events_per_s']:>9,.0f} | "
                f"{figures[f'{key}.rebuild_ratio_vs_read']:.2f}  (goal >= {goal:,})"
            )


def run() -> Figures:
    """Every figure of this benchmark (PostgreSQL ones only when it is reachable)."""
    figures: Figures = {}
    with sqlite_engine() as engine:
        figures.update(figures_for("sqlite", engine))
    with postgres_engine() as pg:
        if pg is not None:
            figures.update(figures_for("postgres", pg))
    print_report(figures)
    return figures


if __name__ == "__main__":
    run()
