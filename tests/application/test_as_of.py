"""`as_of`: ownership and kind checked before any event is read; folds start at the latest
snapshot at or before the instant, and equal a fold from the stream's first event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.errors import NotFound
from backend.application.ports.event_store import StoredEvent
from backend.application.queries import FOLD_PAGE, AccountQueries
from tests.read_side import Bank, ReadSide

DEPOSITS = 25


@dataclass
class CountingReader(InMemoryReadModelReader):
    """The in-memory reader, counting the events `stream` hands out and every call made."""

    db: InMemoryDatabase
    events_read: int = 0
    calls: list[str] = field(default_factory=list)
    #: The version each `stream` read started after.
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.db)

    def __getattribute__(self, name: str) -> object:
        if not name.startswith("_") and name in vars(InMemoryReadModelReader):
            object.__getattribute__(self, "calls").append(name)
        return object.__getattribute__(self, name)

    def stream(self, stream_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        found = super().stream(stream_id, after_version, limit)
        self.starts.append(after_version)
        self.events_read += len(found)
        return found


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def bank(db: InMemoryDatabase) -> Bank:
    """alice's account with DEPOSITS deposits of 1..DEPOSITS a minute apart (snapshots every
    10 versions), and a transfer of hers to bob."""
    side = ReadSide("memory", lambda: InMemoryUnitOfWork(db), InMemoryReadModelReader(db))
    bank = side.bank()
    bank.runner.snapshot_every = 10
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob")
    for amount in range(1, DEPOSITS + 1):
        bank.clock.advance(minutes=1)
        bank.deposit("acc-a", amount)
    bank.clock.advance(minutes=1)
    bank.transfer("tr-1", "acc-a", "acc-b", 5, "alice")
    return bank


def moment_of(db: InMemoryDatabase, version: int) -> datetime:
    return db.streams["acc-a"][version - 1].occurred_at


def test_as_of_now_folds_only_the_events_after_the_latest_snapshot(
    db: InMemoryDatabase, bank: Bank
) -> None:
    reader = CountingReader(db)
    view = AccountQueries(reader).account_as_of("alice", "acc-a", bank.clock.now())
    head = len(db.streams["acc-a"])
    assert (view.version, view.balance) == (head, sum(range(1, DEPOSITS + 1)) - 5)
    assert db.snapshots["acc-a"].version == 20
    assert reader.events_read == head - 20
    assert reader.starts == [20]


@pytest.mark.parametrize("version", [1, 2, 9, 20, 21, 26])
def test_as_of_any_instant_equals_the_fold_of_the_events_until_then(
    db: InMemoryDatabase, bank: Bank, version: int
) -> None:
    view = AccountQueries(CountingReader(db)).account_as_of(
        "alice", "acc-a", moment_of(db, version)
    )
    assert (view.version, view.balance) == (version, sum(range(1, version)))
    assert view.updated_at == moment_of(db, version)
    assert view.opened_at == moment_of(db, 1)


class FullReplayReader(CountingReader):
    """A reader that finds no snapshot: every fold starts at the stream's first event."""

    def snapshot_before(self, stream_id: str, moment: datetime) -> None:
        return None


def latest_kept_at_or_before(db: InMemoryDatabase, version: int) -> int:
    kept = [*db.older_snapshots.get("acc-a", {}), db.snapshots["acc-a"].version]
    return max((v for v in kept if v <= version), default=0)


@pytest.mark.parametrize("version", range(1, DEPOSITS + 3))
def test_the_fold_starts_at_the_latest_snapshot_at_or_before_the_instant(
    db: InMemoryDatabase, bank: Bank, version: int
) -> None:
    reader, full = CountingReader(db), FullReplayReader(db)
    moment = moment_of(db, version)
    view = AccountQueries(reader).account_as_of("alice", "acc-a", moment)

    start = latest_kept_at_or_before(db, version)
    assert sorted(db.older_snapshots["acc-a"]) == [10]  # and the latest, at 20
    assert reader.starts == [start]
    # One page of events read, from the one after the snapshot on (the stream ends first).
    assert reader.events_read == min(FOLD_PAGE, len(db.streams["acc-a"]) - start)
    assert view == AccountQueries(full).account_as_of("alice", "acc-a", moment)
    assert full.starts == [0]


def test_old_snapshots_thin_out_and_each_instant_still_starts_at_the_latest_kept(
    db: InMemoryDatabase, bank: Bank
) -> None:
    bank.runner.snapshot_every = 1  # a snapshot at every version from now on: 60 more
    for _ in range(60):
        bank.clock.advance(minutes=1)
        bank.deposit("acc-a", 1)
    kept = sorted([*db.older_snapshots["acc-a"], db.snapshots["acc-a"].version])
    head = len(db.streams["acc-a"])
    assert kept[-10:] == list(range(head - 9, head + 1))  # the recent ones, all of them
    assert len(kept) < 30  # older ones thinned out
    for version in range(1, head + 1, 3):
        reader = CountingReader(db)
        moment = moment_of(db, version)
        view = AccountQueries(reader).account_as_of("alice", "acc-a", moment)
        assert reader.starts == [max((v for v in kept if v <= version), default=0)]
        assert view == AccountQueries(FullReplayReader(db)).account_as_of("alice", "acc-a", moment)


@pytest.mark.parametrize(
    ("owner", "target"),
    [("bob", "acc-a"), ("alice", "tr-1"), ("bob", "tr-1"), ("alice", "acc-nope")],
    ids=["strangers-account", "own-transfer-id", "strangers-transfer-id", "unknown-id"],
)
def test_ids_that_are_not_the_callers_accounts_read_no_event_and_cost_an_unknown_ids_calls(
    db: InMemoryDatabase, bank: Bank, owner: str, target: str
) -> None:
    reader, baseline = CountingReader(db), CountingReader(db)
    with pytest.raises(NotFound):
        AccountQueries(reader).account_as_of(owner, target, bank.clock.now())
    with pytest.raises(NotFound):
        AccountQueries(baseline).account_as_of("alice", "never-existed", bank.clock.now())
    assert reader.events_read == 0
    assert reader.calls == baseline.calls == ["account"]


def test_before_the_account_was_opened_it_is_not_found(db: InMemoryDatabase, bank: Bank) -> None:
    with pytest.raises(NotFound):
        AccountQueries(CountingReader(db)).account_as_of(
            "alice", "acc-a", moment_of(db, 1) - timedelta(seconds=1)
        )
