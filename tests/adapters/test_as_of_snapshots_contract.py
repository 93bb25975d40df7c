"""`as_of` on SQLite and PostgreSQL: streams keep several snapshots (thinned with age), and a
fold for an instant starts at the latest snapshot at or before it — proven by where the
event read starts and how many events it hands out — and equals a fold from the first event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import pytest

from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.application.ports.event_store import Snapshot, StoredEvent
from backend.application.ports.read_models import ReadModelReader
from backend.application.queries import FOLD_PAGE, AccountQueries
from tests.read_side import Bank, ReadSide, migrated_engine, sql_read_side

DEPOSITS = 40
EVERY = 2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def side(request: pytest.FixtureRequest) -> Iterator[ReadSide]:
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    yield sql_read_side(request.param, migrated_engine(request.getfixturevalue(fixture)))


@dataclass
class Reads:
    """The backend's reader, noting where each stream read starts and what it hands out."""

    inner: ReadModelReader
    with_snapshots: bool = True
    starts: list[int] = field(default_factory=list)
    events_read: int = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def queries(self) -> AccountQueries:
        return AccountQueries(cast(ReadModelReader, self))

    def stream(self, stream_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        found = self.inner.stream(stream_id, after_version, limit)
        self.starts.append(after_version)
        self.events_read += len(found)
        return found

    def snapshot_before(self, stream_id: str, moment: datetime) -> tuple[Snapshot, datetime] | None:
        return self.inner.snapshot_before(stream_id, moment) if self.with_snapshots else None


def busy_account(side: ReadSide) -> tuple[Bank, dict[int, datetime]]:
    """alice's account with DEPOSITS deposits a minute apart, a snapshot every EVERY versions;
    the time of each version."""
    bank = side.bank()
    bank.runner.snapshot_every = EVERY
    bank.open("acc-a", "alice")
    for amount in range(1, DEPOSITS + 1):
        bank.clock.advance(minutes=1)
        bank.deposit("acc-a", amount)
    stream = side.reader.stream("acc-a", 0, 1000)
    return bank, {event.version: event.occurred_at for event in stream}


def test_old_snapshots_are_kept_thinned_and_the_latest_is_what_loads_start_from(
    side: ReadSide,
) -> None:
    busy_account(side)
    with side.uow() as uow:
        kept = uow.snapshots.versions("acc-a")
        latest = uow.snapshots.load("acc-a")
        history = uow.events.history("acc-a")
    head = DEPOSITS + 1
    assert latest is not None and latest.version == kept[-1] == head - head % EVERY
    assert history.snapshot == latest and [e.version for e in history.events] == [head]
    assert kept[-10:] == list(range(kept[-1] - 9 * EVERY, kept[-1] + 1, EVERY))
    assert len(kept) < head // EVERY  # the oldest thinned out
    assert isinstance(side.reader, SqlAlchemyReadModelReader)  # the audit reads them all
    assert len(side.reader.all_snapshots()) == len(kept)


@pytest.mark.parametrize("version", [1, 2, 3, 5, 8, 13, 21, 30, 36, 40, 41])
def test_as_of_starts_at_the_latest_snapshot_at_or_before_the_instant(
    side: ReadSide, version: int
) -> None:
    _, times = busy_account(side)
    with side.uow() as uow:
        kept = uow.snapshots.versions("acc-a")
    reads, full = Reads(side.reader), Reads(side.reader, with_snapshots=False)

    view = reads.queries().account_as_of("alice", "acc-a", times[version])

    start = max((v for v in kept if v <= version), default=0)
    assert reads.starts == [start]
    assert reads.events_read == min(FOLD_PAGE, DEPOSITS + 1 - start)
    assert view == full.queries().account_as_of("alice", "acc-a", times[version])
    assert full.starts == [0]
    assert (view.version, view.balance) == (version, sum(range(1, version)))


def test_snapshots_at_any_version_can_be_saved_listed_and_forgotten(side: ReadSide) -> None:
    first = Snapshot("s-1", "account", 100, 1, {"balance": 5, "holds": {"t": 1}})
    second = Snapshot("s-1", "account", 200, 1, {"balance": 7, "holds": {}})
    for snapshot in (second, first):  # an older one saved later does not become the latest
        with side.uow() as uow:
            uow.snapshots.save(snapshot)
            uow.commit()
    with side.uow() as uow:
        assert uow.snapshots.versions("s-1") == [100, 200]
        assert uow.snapshots.load("s-1") == second
        uow.snapshots.forget("s-1", [100])
        uow.commit()
    with side.uow() as uow:
        assert uow.snapshots.versions("s-1") == [200]
        assert uow.snapshots.versions("missing") == []
