"""The per-process account cache: hits skip the store, and a stale entry never decides
anything (the version guard catches a write, a re-run from the store an unchecked read)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryEventStore
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.bounded import RecentValues
from backend.application.command_bus import CommandBus
from backend.application.commands import Deposit, OpenAccount, RequestTransfer, Withdraw
from backend.application.ports.event_store import EventMetadata, StreamHistory
from backend.domain.account import Account
from backend.domain.errors import InsufficientFunds
from tests.fakes import BusRunner, InMemoryApp, bus_for_tests

META = EventMetadata(user_id="owner-1")


class CountingEventStore(InMemoryEventStore):
    """Counts the aggregate loads that reach the store."""

    loads: ClassVar[list[str]] = []

    def history(self, stream_id: str, *, from_snapshot: bool = True) -> StreamHistory:
        CountingEventStore.loads.append(stream_id)
        return super().history(stream_id, from_snapshot=from_snapshot)


def counting_uow(app: InMemoryApp) -> InMemoryUnitOfWork:
    uow = app.uow()
    uow.events = CountingEventStore(app.db, uow.snapshots)
    return uow


@pytest.fixture
def loads() -> list[str]:
    CountingEventStore.loads = []
    return CountingEventStore.loads


def process(app: InMemoryApp) -> CommandBus:
    """A bus as one process of the deployment has it: its own cache, the shared store."""
    cache: RecentValues[str, Account] = RecentValues(100)
    return bus_for_tests(lambda: counting_uow(app), app.clock, app.ids, cached_accounts=cache)


def balance(app: InMemoryApp, account_id: str) -> int:
    account = BusRunner(app.bus()).run(lambda ctx: ctx.accounts.get(account_id), META)
    assert account is not None
    return account.balance


def test_a_command_after_another_on_the_same_account_reads_nothing_from_the_store(
    memory_app: InMemoryApp, loads: list[str]
) -> None:
    bus = process(memory_app)
    account_id = bus.execute(OpenAccount("owner-1", "Main", "EUR"), META).id
    for _ in range(3):
        bus.execute(Deposit("owner-1", account_id, 10), META)
    assert loads == []
    assert balance(memory_app, account_id) == 30


def test_a_stale_entry_that_writes_is_caught_by_the_version_guard(
    memory_app: InMemoryApp, loads: list[str]
) -> None:
    here, there = process(memory_app), process(memory_app)
    account_id = here.execute(OpenAccount("owner-1", "Main", "EUR"), META).id
    there.execute(Deposit("owner-1", account_id, 50), META)  # `here` does not know

    moved = here.execute(Deposit("owner-1", account_id, 10), META)

    assert moved.balance_after == 60 and balance(memory_app, account_id) == 60
    assert loads.count(account_id) == 2  # `there`'s first read, `here`'s retry


def test_a_stale_entry_never_refuses_a_command(memory_app: InMemoryApp) -> None:
    here, there = process(memory_app), process(memory_app)
    account_id = here.execute(OpenAccount("owner-1", "Main", "EUR"), META).id
    here.execute(Deposit("owner-1", account_id, 10), META)
    there.execute(Deposit("owner-1", account_id, 100), META)

    moved = here.execute(Withdraw("owner-1", account_id, 50), META)  # 10 in `here`'s cache

    assert moved.balance_after == 60


def test_a_read_it_did_not_save_is_made_from_the_store(memory_app: InMemoryApp) -> None:
    """A transfer request reads its source without saving it: never from the cache."""
    here, there = process(memory_app), process(memory_app)
    source = here.execute(OpenAccount("owner-1", "Main", "EUR"), META).id
    target = here.execute(OpenAccount("owner-1", "Savings", "EUR"), META).id
    there.execute(Deposit("owner-1", source, 100), META)
    transfer = here.execute(RequestTransfer("owner-1", source, target, 70), META)
    assert transfer.status == "pending"


def test_a_refused_command_leaves_the_cache_as_the_store_is(memory_app: InMemoryApp) -> None:
    bus = process(memory_app)
    account_id = bus.execute(OpenAccount("owner-1", "Main", "EUR"), META).id
    bus.execute(Deposit("owner-1", account_id, 10), META)
    with pytest.raises(InsufficientFunds):
        bus.execute(Withdraw("owner-1", account_id, 11), META)
    assert bus.execute(Withdraw("owner-1", account_id, 10), META).balance_after == 0
