"""CommandBus: one handler per command type, one fresh unit of work per attempt, conflicts
retried (queueing for a hot stream), metadata carried, idempotency keys in the same transaction."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryDatabase, InMemoryEventStore
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application import accounts
from backend.application.command_bus import CommandContext
from backend.application.command_outcomes import RetryPolicy
from backend.application.commands import Deposit, Withdraw
from backend.application.errors import ConcurrencyError, ConcurrentModification
from backend.application.ports.event_store import EventMetadata, NewEvent, StoredEvent, StreamAppend
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.queries import TransactionView
from backend.domain.errors import InsufficientFunds
from backend.domain.money import Money
from tests.application.conftest import AccountOpener
from tests.fakes import BusRunner, InMemoryApp, bus_for_tests

META = EventMetadata(
    correlation_id="corr-1", causation_id="cause-1", user_id="owner-1", request_id="req-1"
)


class ConflictingEventStore(InMemoryEventStore):
    """An event store whose every append finds the stream moved."""

    def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        previous_hash: str | None = None,
        *,
        publish: bool = True,
    ) -> list[StoredEvent]:
        raise ConcurrencyError(f"{stream_id} moved")

    def append_streams(
        self, appends: Sequence[StreamAppend], *, publish: bool = True
    ) -> list[StoredEvent]:
        raise ConcurrencyError(f"{appends[0].stream_id} moved")


class ConflictingUnitOfWorks:
    """A unit-of-work factory whose first `conflicts` units of work always conflict."""

    def __init__(self, db: InMemoryDatabase, conflicts: int) -> None:
        self.db, self.conflicts, self.made = db, conflicts, 0

    def __call__(self) -> UnitOfWork:
        uow = InMemoryUnitOfWork(self.db)
        if self.made < self.conflicts:
            uow.events = ConflictingEventStore(self.db, uow.snapshots)
        self.made += 1
        return uow


RETRY = RetryPolicy(max_attempts=5)


def runner_over(
    app: InMemoryApp, factory: ConflictingUnitOfWorks, sleeps: list[float]
) -> BusRunner:
    return BusRunner(bus_for_tests(factory, app.clock, app.ids, retry=RETRY, sleep=sleeps.append))


def deposit_one(account_id: str) -> Deposit:
    return Deposit("owner-1", account_id, 1)


def test_stored_events_carry_the_commands_metadata(
    memory_app: InMemoryApp, runner: BusRunner, open_account: AccountOpener
) -> None:
    account_id = open_account()
    runner.run(lambda ctx: accounts.deposit(deposit_one(account_id), ctx), META)

    event = memory_app.db.streams[account_id][-1]
    assert event.metadata == META
    assert memory_app.db.streams[account_id][-1].metadata.to_dict() == {
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
        "user_id": "owner-1",
        "request_id": "req-1",
    }
    assert event.occurred_at == memory_app.clock.now()


def test_a_conflict_is_retried_in_a_fresh_unit_of_work(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account()
    factory = ConflictingUnitOfWorks(memory_app.db, conflicts=2)
    sleeps: list[float] = []
    runner = runner_over(memory_app, factory, sleeps)

    moved = runner.run(lambda ctx: accounts.deposit(deposit_one(account_id), ctx), META)

    assert (factory.made, len(sleeps)) == (3, 2)
    assert [e.event_id for e in memory_app.db.streams[account_id]][-1] == moved.id
    assert len(memory_app.db.streams[account_id]) == 2


def test_conflicts_past_max_attempts_give_up_with_concurrent_modification(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account()
    factory = ConflictingUnitOfWorks(memory_app.db, conflicts=10**6)
    sleeps: list[float] = []
    runner = runner_over(memory_app, factory, sleeps)

    with pytest.raises(ConcurrentModification):
        runner.run(lambda ctx: accounts.deposit(deposit_one(account_id), ctx), META)

    assert factory.made == RETRY.max_attempts == 5
    assert all(0 <= d <= RETRY.base_delay * 2**i for i, d in enumerate(sleeps))
    assert len(memory_app.db.streams[account_id]) == 1


def test_a_retry_sees_what_the_winner_committed(
    memory_app: InMemoryApp, runner: BusRunner, open_account: AccountOpener
) -> None:
    account_id = open_account(balance=10)
    seen_balances: list[int] = []

    def withdraw_after_a_rival(ctx: CommandContext) -> StoredEvent:
        account = accounts.load_owned(ctx, account_id, "owner-1")
        if not seen_balances:  # a rival commits between our read and our append
            memory_app.runner().run(
                lambda rival: accounts.withdraw(Withdraw("owner-1", account_id, 4), rival), META
            )
        seen_balances.append(account.balance)
        account.withdraw(Money(4, "EUR"))
        return ctx.accounts.save(account, ctx.metadata)[-1]

    event = runner.run(withdraw_after_a_rival, META)

    assert seen_balances == [10, 6]
    assert event.version == 4
    assert [e.type for e in memory_app.db.streams[account_id]][-2:] == ["MoneyWithdrawn"] * 2


def test_a_domain_refusal_is_not_retried(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account()
    factory = ConflictingUnitOfWorks(memory_app.db, conflicts=0)
    sleeps: list[float] = []
    with pytest.raises(InsufficientFunds):
        runner_over(memory_app, factory, sleeps).run(
            lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 1), ctx), META
        )
    assert (factory.made, sleeps) == (1, [])


def test_the_inline_projector_sees_the_appended_events_before_commit(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account()
    seen: list[tuple[list[str], int]] = []

    def project(uow: UnitOfWork, events: Sequence[StoredEvent]) -> None:
        seen.append(([e.type for e in events], len(memory_app.db.streams[account_id])))

    runner = memory_app.runner()
    runner.bus.inline_projector = project
    runner.run(lambda ctx: accounts.deposit(deposit_one(account_id), ctx), META)

    assert seen == [(["MoneyDeposited"], 1)]  # not yet committed while projecting
    assert len(memory_app.db.streams[account_id]) == 2


def test_a_failing_inline_projector_rolls_the_command_back(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account()

    def project(uow: UnitOfWork, events: Sequence[StoredEvent]) -> None:
        raise RuntimeError("read model down")

    runner = memory_app.runner()
    runner.bus.inline_projector = project
    with pytest.raises(RuntimeError):
        runner.run(lambda ctx: accounts.deposit(deposit_one(account_id), ctx), META)
    assert len(memory_app.db.streams[account_id]) == 1


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads far more often than usual, so reads and appends interleave."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_fifty_concurrent_withdrawals_never_overdraw(
    memory_app: InMemoryApp, open_account: AccountOpener
) -> None:
    account_id = open_account(balance=30)
    retry = RetryPolicy(base_delay=0.0005)
    runner = BusRunner(
        bus_for_tests(
            memory_app.uow, memory_app.clock, memory_app.ids, retry=retry, sleep=time.sleep
        )
    )
    start = threading.Barrier(50)

    def withdraw_one(_: int) -> TransactionView | None:
        start.wait()
        for _attempt in range(100):  # a client retrying ConcurrentModification (HTTP 409)
            try:
                return runner.run(
                    lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 1), ctx), META
                )
            except InsufficientFunds:
                return None
            except ConcurrentModification:
                time.sleep(0.001)
        raise AssertionError("never resolved")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(withdraw_one, range(50)))

    successes = [event for event in results if event is not None]
    stream = memory_app.db.streams[account_id]
    withdrawn = [event for event in stream if event.type == "MoneyWithdrawn"]
    assert len(successes) == 30
    assert sorted(e.id for e in successes) == sorted(e.event_id for e in withdrawn)
    assert [event.version for event in stream] == list(range(1, 33))
    final = memory_app.runner().run(lambda ctx: ctx.accounts.get(account_id), META)
    assert final is not None
    assert (final.balance, final.available) == (0, 0)
