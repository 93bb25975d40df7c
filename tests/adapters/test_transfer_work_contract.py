"""The transfer-work contract (memory, SQLite, PostgreSQL): a row per pending transfer, written
and deleted with the transfer's events in their transaction; claims oldest first, limited,
leased (the lease doubling per claim), never the same row to two claimers; and the transfer
engine on each store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.transfer_work import InMemoryTransferClaims
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.sqlalchemy.transfer_work import (
    SqlAlchemyTransferClaims,
    transfer_work,
)
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application import accounts
from backend.application.command_bus import CommandContext
from backend.application.commands import Deposit, OpenAccount, RequestTransfer
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.ports.transfer_work import (
    MAX_LEASE,
    ClaimedTransfer,
    TransferClaims,
    lease_for,
)
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.transfer_engine import TransferEngine
from backend.application.transfers import request_transfer
from tests.adapters.test_concurrency import run_threads
from tests.fakes import BusRunner, FixedClock, SequentialIds, bus_for_tests

TIMEOUT = timedelta(seconds=60)
LEASE = timedelta(seconds=10)
META = EventMetadata(user_id="owner-1")


@dataclass
class Bank:
    """Commands and the transfer engine over one store, on a fixed clock."""

    runner: BusRunner
    claims: TransferClaims
    clock: FixedClock
    uow: Callable[[], UnitOfWork]

    def open(self, balance: int = 0) -> str:
        opened = OpenAccount("owner-1", "Everyday", "EUR")
        account_id = self.runner.run(lambda ctx: accounts.open_account(opened, ctx), META).id
        if balance:
            deposit = Deposit("owner-1", account_id, balance)
            self.runner.run(lambda ctx: accounts.deposit(deposit, ctx), META)
        return account_id

    def transfer(self, source: str, target: str, amount: int) -> str:
        command = RequestTransfer("owner-1", source, target, amount)
        return self.runner.run(lambda ctx: request_transfer(command, ctx, TIMEOUT), META).id

    def engine(self) -> TransferEngine:
        return TransferEngine(self.runner.bus, self.claims, self.clock, lease=LEASE)

    def claim(self, limit: int = 100, after: float = 0) -> list[ClaimedTransfer]:
        """Claim as an engine would, `after` seconds from now on the bank's clock."""
        return self.claims.claim(self.clock.now() + timedelta(seconds=after), LEASE, limit)

    def claimed_ids(self, limit: int = 100, after: float = 0) -> list[str]:
        return [claim.transfer_id for claim in self.claim(limit, after)]

    def ready(self, after: float = 0) -> bool:
        return self.claims.ready(self.clock.now() + timedelta(seconds=after))

    def status(self, transfer_id: str) -> str:
        transfer = self.runner.run(lambda ctx: ctx.transfers.get(transfer_id), META)
        assert transfer is not None
        return transfer.failure_reason or transfer.status

    def balance(self, account_id: str) -> int:
        account = self.runner.run(lambda ctx: ctx.accounts.get(account_id), META)
        assert account is not None
        return account.balance


def make_bank(uow: Callable[[], UnitOfWork], claims: TransferClaims) -> Bank:
    clock = FixedClock()
    bus = bus_for_tests(uow, clock, SequentialIds())
    return Bank(BusRunner(bus), claims, clock, uow)


def memory_bank() -> Bank:
    db = InMemoryDatabase()
    return make_bank(lambda: InMemoryUnitOfWork(db), InMemoryTransferClaims(db))


def sql_bank(engine: Engine) -> Bank:
    return make_bank(lambda: SqlAlchemyUnitOfWork(engine), SqlAlchemyTransferClaims(engine))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bank(request: pytest.FixtureRequest) -> Bank:
    if request.param == "memory":
        return memory_bank()
    return sql_bank(request.getfixturevalue(f"{request.param}_engine"))


# -- the rows: written with the transfer's events -------------------------------------------


def test_a_requested_transfer_is_ready_at_once_and_claimed_with_its_latest_event(
    bank: Bank,
) -> None:
    assert not bank.ready()
    requested_at = bank.clock.now()
    transfer_id = bank.transfer(bank.open(100), bank.open(), 30)
    assert bank.ready() and not bank.ready(after=-1)
    [claimed] = bank.claim()
    with bank.uow() as uow:
        [requested] = uow.events.read_stream(transfer_id)
    assert claimed == ClaimedTransfer(transfer_id, requested.event_id, requested_at, attempts=1)


@pytest.mark.parametrize(("amount", "status"), [(30, "completed"), (500, "insufficient_funds")])
def test_a_transfer_leaves_the_table_with_its_end(bank: Bank, amount: int, status: str) -> None:
    transfer_id = bank.transfer(bank.open(100), bank.open(), amount)
    assert bank.engine().run_once() == 1
    assert bank.status(transfer_id) == status
    assert not bank.ready(after=3600)
    assert bank.claim(after=3600) == []


def test_a_rolled_back_request_leaves_no_row(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()

    def request_then_fail(ctx: CommandContext) -> None:
        request_transfer(RequestTransfer("owner-1", source, target, 30), ctx, TIMEOUT)
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        bank.runner.run(request_then_fail, META)
    assert not bank.ready(after=3600)


def test_a_row_is_seen_only_once_its_transaction_committed(bank: Bank) -> None:
    requested = NewEvent("e-1", "TransferRequested", 1, {}, META, bank.clock.now())
    with bank.uow() as uow:
        stored = uow.events.append("t-1", "transfer", 0, [requested])
        uow.transfer_work.track(stored)
        assert not bank.ready()  # another connection: not committed yet
        uow.rollback()
    assert not bank.ready()
    with bank.uow() as uow:
        uow.transfer_work.track(uow.events.append("t-1", "transfer", 0, [requested]))
        uow.commit()
    assert bank.claimed_ids() == ["t-1"]
    ended = NewEvent("e-2", "TransferFailed", 1, {"reason": "x"}, META, bank.clock.now())
    with bank.uow() as uow:
        uow.transfer_work.track(uow.events.append("t-1", "transfer", 1, [ended]))
        assert bank.ready(after=LEASE.total_seconds())  # still there for others until commit
        uow.commit()
    assert not bank.ready(after=3600)


# -- claims: order, limit, leases -----------------------------------------------------------


def test_claims_come_oldest_first_and_limited(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    first = bank.transfer(source, target, 1)
    bank.clock.advance(seconds=1)
    second = bank.transfer(source, target, 1)
    bank.clock.advance(seconds=1)
    third = bank.transfer(source, target, 1)
    assert bank.claimed_ids(limit=2) == [first, second]
    assert bank.claimed_ids(limit=2) == [third]  # the first two are leased
    assert bank.claimed_ids() == []


def test_a_claim_leases_its_transfer_for_longer_each_time(bank: Bank) -> None:
    transfer_id = bank.transfer(bank.open(100), bank.open(), 30)
    at = 0.0
    for attempt, lease in enumerate((10, 20, 40, 80), start=1):
        [claim] = bank.claim(after=at)
        assert (claim.transfer_id, claim.attempts) == (transfer_id, attempt)
        assert not bank.ready(after=at + lease - 1) and bank.claim(after=at + lease - 1) == []
        assert bank.ready(after=at + lease)  # another engine may take it from then on
        at += lease


def test_leases_double_up_to_their_cap() -> None:
    assert [lease_for(LEASE, n) for n in (1, 2, 3)] == [LEASE, 2 * LEASE, 4 * LEASE]
    assert lease_for(LEASE, 7) == MAX_LEASE == lease_for(LEASE, 10_000)


def test_concurrent_claimers_never_get_the_same_transfer(bank: Bank) -> None:
    source, target = bank.open(10_000), bank.open()
    transfer_ids = {bank.transfer(source, target, 1) for _ in range(60)}
    now, taken = bank.clock.now(), list[list[str]]()

    def claimer(_: int) -> None:
        mine: list[str] = []
        while claimed := bank.claims.claim(now, LEASE, 3):
            mine.extend(claim.transfer_id for claim in claimed)
        taken.append(mine)

    run_threads(4, claimer)
    every = [transfer_id for mine in taken for transfer_id in mine]
    assert sorted(every) == sorted(transfer_ids)  # each claimed once, by one claimer


@pytest.mark.postgres
def test_on_postgresql_a_claim_skips_the_rows_another_claim_holds_locked(
    postgres_engine: Engine,
) -> None:
    bank = sql_bank(postgres_engine)
    source, target = bank.open(100), bank.open()
    held, free = bank.transfer(source, target, 1), bank.transfer(source, target, 1)
    with postgres_engine.connect() as other:  # another engine, mid-claim on the first row
        locked = select(transfer_work.c.transfer_id).where(transfer_work.c.transfer_id == held)
        other.execute(locked.with_for_update())
        assert bank.claimed_ids() == [free]  # at once: no waiting for the other's commit
        other.rollback()
    assert bank.claimed_ids() == [held]


# -- the engine on each store ---------------------------------------------------------------


def test_the_engine_moves_the_money_on_the_store(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    assert bank.engine().run_once() == 1
    assert bank.status(transfer_id) == "completed"
    assert (bank.balance(source), bank.balance(target)) == (70, 30)


def test_the_engine_times_out_a_transfer_it_sees_past_its_deadline(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.clock.advance(seconds=61)  # no engine ran until now
    assert bank.engine().run_once() == 1
    assert bank.status(transfer_id) == "timed_out"
    assert (bank.balance(source), bank.balance(target)) == (100, 0)
    assert not bank.ready(after=3600)


def test_a_dead_engines_claim_is_run_by_another_once_its_lease_ends(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    assert bank.claimed_ids() == [transfer_id]  # then its engine died
    assert bank.engine().run_once() == 0
    bank.clock.advance(seconds=LEASE.total_seconds())
    assert bank.engine().run_once() == 1
    assert bank.status(transfer_id) == "completed"
    assert not bank.ready(after=3600)
