"""The hash chain every event store adapter writes: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.application.event_codec import default_codec
from backend.application.event_hash import GENESIS, stored_event_hash
from backend.application.ports.event_store import EventMetadata, NewEvent, StoredEvent
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.repository import Repository
from backend.domain.account import Account
from backend.domain.money import Money
from tests.adapters.conftest import StoreBackend
from tests.adapters.test_event_store_contract import Factory, append, read_all, read_stream
from tests.fakes import FixedClock, SequentialIds


@pytest.fixture
def new() -> Factory:
    return Factory()


def chain_holds(events: list[StoredEvent]) -> bool:
    previous = GENESIS
    for event in events:
        if event.hash != stored_event_hash(previous, event):
            return False
        previous = event.hash
    return True


def test_appended_events_are_chained_from_genesis_and_read_back_with_their_hash(
    store_backend: StoreBackend, new: Factory
) -> None:
    stored = append(store_backend, "s-1", 0, new(3, note="é ✓ \u2028"))
    assert chain_holds(stored)
    assert read_stream(store_backend, "s-1") == stored
    assert [e.hash for e in read_all(store_backend)] == [e.hash for e in stored]


def test_each_stream_has_its_own_chain(store_backend: StoreBackend, new: Factory) -> None:
    append(store_backend, "s-1", 0, new(2))
    append(store_backend, "s-2", 0, new(1))
    append(store_backend, "s-1", 2, new(1))
    assert chain_holds(read_stream(store_backend, "s-1"))
    assert chain_holds(read_stream(store_backend, "s-2"))


def test_the_chain_continues_whether_or_not_the_caller_knows_the_head(
    store_backend: StoreBackend, new: Factory
) -> None:
    (first,) = append(store_backend, "s-1", 0, new(1))
    with store_backend.uow() as uow:
        uow.events.append("s-1", "thing", 1, new(1))  # the store reads the head itself
        uow.events.append("s-1", "thing", 2, new(1), previous_hash=None)
        uow.commit()
    append_after = read_stream(store_backend, "s-1")
    assert append_after[0] == first and chain_holds(append_after)
    with store_backend.uow() as uow:
        head = uow.events.history("s-1").head_hash
        uow.events.append("s-1", "thing", 3, new(1), previous_hash=head)
        uow.commit()
    assert chain_holds(read_stream(store_backend, "s-1"))


def test_the_hash_covers_the_stored_time_in_utc_whatever_the_offset_written(
    store_backend: StoreBackend,
) -> None:
    paris = datetime(2026, 11, 21, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    meta = EventMetadata(correlation_id="c", user_id="u")
    (stored,) = append(store_backend, "s-tz", 0, [NewEvent("e-tz", "Thing", 1, {}, meta, paris)])
    utc = NewEvent("e-tz", "Thing", 1, {}, meta, paris.astimezone(UTC))
    assert stored.hash == stored_event_hash(GENESIS, _as_stored(utc, stored))
    assert read_stream(store_backend, "s-tz")[0].hash == stored.hash


def test_repository_saves_keep_the_chain_across_loads_and_snapshots(
    store_backend: StoreBackend,
) -> None:
    ids = SequentialIds("e")

    def accounts_in(uow: UnitOfWork) -> Repository[Account]:
        return Repository(Account, uow, default_codec(), FixedClock(), ids, snapshot_every=3)

    with store_backend.uow() as uow:
        accounts_in(uow).save(Account.open("acc-1", "u-1", "Main", "EUR"), EventMetadata())
        uow.commit()
    for amount in range(1, 9):  # snapshots every 3 versions: most loads start from one
        with store_backend.uow() as uow:
            accounts = accounts_in(uow)
            account = accounts.get("acc-1")
            assert account is not None
            account.deposit(Money(amount, "EUR"))
            accounts.save(account, EventMetadata(request_id=f"r-{amount}"))
            account.deposit(Money(amount, "EUR"))  # a second save in the same unit of work
            accounts.save(account, EventMetadata())
            uow.commit()
    events = read_stream(store_backend, "acc-1")
    assert [e.version for e in events] == list(range(1, 18))
    assert chain_holds(events)


def _as_stored(event: NewEvent, like: StoredEvent) -> StoredEvent:
    return StoredEvent(
        like.position, event.event_id, like.stream_id, like.stream_type, like.version, event.type,
        event.schema_version, event.data, event.metadata, event.occurred_at,
    )  # fmt: skip
