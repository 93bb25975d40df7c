"""The one contract every event store adapter passes: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from backend.application.errors import ConcurrencyError
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import (
    EventMetadata,
    EventRecord,
    NewEvent,
    Snapshot,
    StoredEvent,
    StreamHistory,
)
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.repository import Repository
from backend.domain.account import Account
from backend.domain.money import Money
from tests.adapters.conftest import StoreBackend
from tests.fakes import FixedClock, SequentialIds

WHEN = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
META = EventMetadata(
    correlation_id="corr-1", causation_id="cause-1", user_id="u-1", request_id="r-1"
)


class Factory:
    """NewEvents with unique ids."""

    def __init__(self) -> None:
        self.ids = SequentialIds("ev")

    def __call__(self, count: int = 1, kind: str = "Thing", **data: object) -> list[NewEvent]:
        return [
            NewEvent(self.ids.new_id(), kind, 1, {"n": i, **data}, META, WHEN) for i in range(count)
        ]


@pytest.fixture
def new() -> Factory:
    return Factory()


def append(
    backend: StoreBackend, stream: str, expected: int, events: list[NewEvent]
) -> list[StoredEvent]:
    with backend.uow() as uow:
        stored = uow.events.append(stream, "thing", expected, events)
        uow.commit()
    return stored


def read_stream(backend: StoreBackend, stream: str, after: int = 0) -> list[StoredEvent]:
    with backend.uow() as uow:
        return uow.events.read_stream(stream, after_version=after)


def read_all(backend: StoreBackend, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
    with backend.uow() as uow:
        return uow.events.read_all(after, limit)


def repository(uow: UnitOfWork, snapshot_every: int = 100) -> Repository[Account]:
    return Repository(
        Account, uow, default_codec(), FixedClock(), SequentialIds("e"), snapshot_every
    )


class TestAppendAndRead:
    """Events go in and come back out unchanged, in stream order."""

    def test_appended_events_read_back_with_versions_positions_and_metadata(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        written = new(3, note="é ✓")
        stored = append(store_backend, "s-1", 0, written)
        found = read_stream(store_backend, "s-1")
        assert found == stored
        assert [e.version for e in found] == [1, 2, 3]
        assert [e.event_id for e in found] == [e.event_id for e in written]
        assert found[0].data == {"n": 0, "note": "é ✓"}
        assert found[0].metadata == META
        assert found[0].stream_type == "thing"
        assert found[1].position > found[0].position

    def test_timestamps_come_back_as_aware_utc(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        paris = datetime(2026, 11, 21, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
        event = NewEvent("ev-tz", "Thing", 1, {}, META, paris)
        append(store_backend, "s-tz", 0, [event])
        (found,) = read_stream(store_backend, "s-tz")
        assert found.occurred_at == paris
        assert found.occurred_at.utcoffset() == timedelta(0)

    def test_reading_from_a_version_returns_only_later_events(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        append(store_backend, "s-1", 0, new(5))
        assert [e.version for e in read_stream(store_backend, "s-1", after=3)] == [4, 5]
        with store_backend.uow() as uow:
            assert [e.version for e in uow.events.read_stream("s-1", 1, limit=2)] == [2, 3]
        assert read_stream(store_backend, "s-1", after=5) == []
        assert read_stream(store_backend, "unknown") == []

    def test_a_transaction_sees_its_own_uncommitted_appends(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        with store_backend.uow() as uow:
            uow.events.append("s-1", "thing", 0, new(2))
            assert [e.version for e in uow.events.read_stream("s-1")] == [1, 2]
            uow.events.append("s-1", "thing", 2, new(1))
            uow.commit()
        assert len(read_stream(store_backend, "s-1")) == 3


class TestOptimisticConcurrency:
    """`UNIQUE(stream_id, version)` surfaces as a typed ConcurrencyError."""

    def test_appending_at_a_stale_version_raises_concurrency_error(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        append(store_backend, "s-1", 0, new(2))
        with pytest.raises(ConcurrencyError):
            append(store_backend, "s-1", 1, new(1))
        with pytest.raises(ConcurrencyError):
            append(store_backend, "s-1", 0, new(1))
        assert [e.version for e in read_stream(store_backend, "s-1")] == [1, 2]

    def test_a_conflict_rolls_back_the_whole_transaction(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        append(store_backend, "s-1", 0, new(1))
        with pytest.raises(ConcurrencyError), store_backend.uow() as uow:
            uow.events.append("other", "thing", 0, new(1))
            uow.events.append("s-1", "thing", 0, new(1))
            uow.commit()
        assert read_stream(store_backend, "other") == []
        with store_backend.uow() as uow:
            assert [m.event.stream_id for m in uow.outbox.pending()] == ["s-1"]


class TestGlobalOrder:
    """read_all walks every stream by global position."""

    def test_read_all_returns_every_stream_in_position_order(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        a = append(store_backend, "a", 0, new(2))
        b = append(store_backend, "b", 0, new(1))
        c = append(store_backend, "a", 2, new(1))
        everything = read_all(store_backend)
        assert everything == [*a, *b, *c]
        assert [e.position for e in everything] == sorted(e.position for e in everything)
        assert read_all(store_backend, after=a[-1].position) == [*b, *c]
        assert read_all(store_backend, after=0, limit=2) == a
        with store_backend.uow() as uow:
            assert uow.events.head_position() == c[-1].position

    def test_an_empty_store_has_head_position_zero(self, store_backend: StoreBackend) -> None:
        with store_backend.uow() as uow:
            assert uow.events.head_position() == 0
            assert uow.events.read_all() == []


class TestOutbox:
    """Outbox rows are written with their events, atomically."""

    def test_each_appended_event_waits_in_the_outbox_until_dispatched(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        stored = append(store_backend, "a", 0, new(2)) + append(store_backend, "b", 0, new(1))
        with store_backend.uow() as uow:
            pending = uow.outbox.pending()
            assert [m.event for m in pending] == stored
            assert [m.outbox_id for m in pending] == [e.position for e in stored]
            assert [m.event for m in uow.outbox.pending(limit=1)] == stored[:1]
            uow.outbox.mark_dispatched([stored[0].position, stored[2].position])
            uow.commit()
        with store_backend.uow() as uow:
            assert [m.event for m in uow.outbox.pending()] == [stored[1]]

    def test_pending_after_a_cursor_leaves_out_the_rows_at_or_below_it(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        stored = append(store_backend, "a", 0, new(3))
        with store_backend.uow() as uow:
            assert [m.event for m in uow.outbox.pending(after=stored[0].position)] == stored[1:]
            assert uow.outbox.pending(limit=1, after=stored[1].position)[0].event == stored[2]
            assert uow.outbox.pending(after=stored[2].position) == []

    def test_a_failed_transaction_leaves_neither_events_nor_outbox_rows(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        with pytest.raises(RuntimeError), store_backend.uow() as uow:
            uow.events.append("a", "thing", 0, new(2))
            raise RuntimeError("the command failed after appending")
        with store_backend.uow() as uow:
            assert uow.events.read_all() == []
            assert uow.outbox.pending() == []
            assert uow.events.head_position() == 0


class TestSnapshots:
    """Snapshots save, load, and are ignored when their state version is old."""

    def test_a_saved_snapshot_loads_back_and_a_newer_one_replaces_it(
        self, store_backend: StoreBackend
    ) -> None:
        first = Snapshot("s-1", "account", 100, 1, {"balance": 5, "holds": {"t": 1}})
        second = Snapshot("s-1", "account", 200, 1, {"balance": 7, "holds": {}})
        for snapshot in (first, second):
            with store_backend.uow() as uow:
                uow.snapshots.save(snapshot)
                uow.commit()
        with store_backend.uow() as uow:
            assert uow.snapshots.load("s-1") == second
            assert uow.snapshots.load("missing") is None

    def test_the_repository_snapshots_every_n_events_and_loads_from_the_snapshot(
        self, store_backend: StoreBackend
    ) -> None:
        account = Account.open("acc-1", "owner", "Main", "EUR")
        for _ in range(6):
            account.deposit(Money(100, "EUR"))
        with store_backend.uow() as uow:
            repository(uow, snapshot_every=3).save(account, META)
            uow.commit()
        with store_backend.uow() as uow:
            snapshot = uow.snapshots.load("acc-1")
            loaded = repository(uow, snapshot_every=3).get("acc-1")
        assert snapshot is not None and snapshot.version == 7
        assert loaded is not None and (loaded.version, loaded.balance) == (7, 600)

    def test_a_snapshot_of_an_old_state_version_is_ignored(
        self, store_backend: StoreBackend
    ) -> None:
        account = Account.open("acc-1", "owner", "Main", "EUR")
        account.deposit(Money(250, "EUR"))
        old = Snapshot("acc-1", "account", 2, Account.STATE_VERSION - 1, {"bogus": True})
        with store_backend.uow() as uow:
            repository(uow).save(account, META)
            uow.snapshots.save(old)
            uow.commit()
        with store_backend.uow() as uow:
            loaded = repository(uow).get("acc-1")
        assert loaded is not None and (loaded.version, loaded.balance) == (2, 250)


class TestHistory:
    """`history`: what an aggregate load reads, the latest snapshot and the events after it."""

    def test_without_a_snapshot_it_is_every_event_of_the_stream_and_no_other(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        stored = append(store_backend, "s-1", 0, new(2, note="é ✓ \u2028"))
        append(store_backend, "s-2", 0, new(1))
        with store_backend.uow() as uow:
            history = uow.events.history("s-1")
            missing = uow.events.history("missing")
        assert history == StreamHistory(
            None,
            [
                EventRecord(1, "thing", "Thing", 1, {"n": 0, "note": "é ✓ \u2028"}),
                EventRecord(2, "thing", "Thing", 1, {"n": 1, "note": "é ✓ \u2028"}),
            ],
            stored[-1].hash,
        )
        assert missing == StreamHistory(None, [])

    def test_with_a_snapshot_it_is_the_snapshot_and_only_the_later_events(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        append(store_backend, "s-1", 0, new(5))
        snapshot = Snapshot("s-1", "thing", 3, 1, {"total": 3, "nested": {"k": [1, 2]}})
        with store_backend.uow() as uow:
            uow.snapshots.save(snapshot)
            uow.commit()
        with store_backend.uow() as uow:
            history = uow.events.history("s-1")
            whole = uow.events.history("s-1", from_snapshot=False)
        assert history.snapshot == snapshot
        assert [(e.version, e.data["n"]) for e in history.events] == [(4, 3), (5, 4)]
        assert whole.snapshot is None
        assert [e.version for e in whole.events] == [1, 2, 3, 4, 5]

    def test_a_snapshot_at_the_head_comes_back_with_no_events(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        stored = append(store_backend, "s-1", 0, new(2))
        with store_backend.uow() as uow:
            uow.snapshots.save(Snapshot("s-1", "thing", 2, 1, {}))
            uow.commit()
        with store_backend.uow() as uow:
            assert uow.events.history("s-1") == StreamHistory(
                Snapshot("s-1", "thing", 2, 1, {}), [], stored[-1].hash
            )

    def test_it_sees_its_own_unit_of_works_uncommitted_appends(
        self, store_backend: StoreBackend, new: Factory
    ) -> None:
        with store_backend.uow() as uow:
            uow.events.append("s-1", "thing", 0, new(2))
            assert [e.version for e in uow.events.history("s-1").events] == [1, 2]


def test_only_the_stream_version_constraint_is_a_concurrency_error(
    sql_store_backend: StoreBackend, new: Factory
) -> None:
    (event,) = new(1)
    append(sql_store_backend, "a", 0, [event])
    with pytest.raises(IntegrityError) as raised:
        append(sql_store_backend, "b", 0, [event])  # same event id, another stream
    assert not isinstance(raised.value, ConcurrencyError)
