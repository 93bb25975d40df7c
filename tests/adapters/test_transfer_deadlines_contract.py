"""The transfer-deadline contract (memory, SQLite, PostgreSQL), and the saga on each store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.transfer_deadlines import InMemoryOverdueTransfers
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.sqlalchemy.transfer_deadlines import SqlAlchemyOverdueTransfers
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application import accounts
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.commands import Deposit, OpenAccount, RequestTransfer
from backend.application.event_codec import default_codec
from backend.application.messaging import build_dispatcher
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.transfer_deadlines import OverdueTransfers
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.relay import OutboxRelay
from backend.application.sweeper import TransferSweeper, with_deadline_tracking
from backend.application.transfers import TransferProcess, request_transfer
from tests.application.saga_harness import CollectingJobQueue
from tests.fakes import FixedClock, SequentialIds

TIMEOUT = timedelta(seconds=60)
META = EventMetadata(user_id="owner-1")


def _no_projection(uow: UnitOfWork, events: object) -> None:
    """No read side in these tests."""


@dataclass
class Bank:
    """The saga over one store, messages delivered synchronously by `settle`."""

    runner: CommandRunner
    deadlines: OverdueTransfers
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

    def settle(self) -> None:
        queue = CollectingJobQueue()
        relay, dispatcher = OutboxRelay(self.uow, queue), build_dispatcher(self.process())
        while relay.relay_all():
            while queue.batches:
                dispatcher.dispatch(queue.batches.pop(0))

    def process(self) -> TransferProcess:
        return TransferProcess(self.runner)

    def status(self, transfer_id: str) -> str:
        transfer = self.runner.run(lambda ctx: ctx.transfers.get(transfer_id), META)
        assert transfer is not None
        return transfer.status

    def balance(self, account_id: str) -> int:
        account = self.runner.run(lambda ctx: ctx.accounts.get(account_id), META)
        assert account is not None
        return account.balance


def make_bank(uow: Callable[[], UnitOfWork], deadlines: OverdueTransfers) -> Bank:
    clock = FixedClock()
    projector = with_deadline_tracking(_no_projection)
    runner = CommandRunner(
        uow,
        default_codec(),
        clock,
        SequentialIds(),
        inline_projector=projector,
        sleep=lambda _: None,
    )
    return Bank(runner, deadlines, clock, uow)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bank(request: pytest.FixtureRequest) -> Bank:
    if request.param == "memory":
        db = InMemoryDatabase()
        return make_bank(lambda: InMemoryUnitOfWork(db), InMemoryOverdueTransfers(db))
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return make_bank(lambda: SqlAlchemyUnitOfWork(engine), SqlAlchemyOverdueTransfers(engine))


def overdue_after(bank: Bank, seconds: float) -> list[str]:
    return bank.deadlines.overdue(bank.clock.now() + timedelta(seconds=seconds))


def test_pending_transfer_is_overdue_only_after_its_deadline(bank: Bank) -> None:
    transfer_id = bank.transfer(bank.open(100), bank.open(), 30)
    assert overdue_after(bank, 59) == []
    assert overdue_after(bank, 61) == [transfer_id]


def test_overdue_transfers_come_oldest_deadline_first_and_limited(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    first = bank.transfer(source, target, 1)
    bank.clock.advance(seconds=5)
    second = bank.transfer(source, target, 1)
    assert overdue_after(bank, 61) == [first, second]
    assert bank.deadlines.overdue(bank.clock.now() + timedelta(seconds=61), limit=1) == [first]


@pytest.mark.parametrize(("amount", "status"), [(30, "completed"), (500, "failed")])
def test_ended_transfer_is_no_longer_overdue(bank: Bank, amount: int, status: str) -> None:
    transfer_id = bank.transfer(bank.open(100), bank.open(), amount)
    bank.settle()
    assert bank.status(transfer_id) == status
    assert overdue_after(bank, 61) == []


def test_rolled_back_request_leaves_no_deadline(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()

    def request_then_fail(ctx: CommandContext) -> None:
        request_transfer(RequestTransfer("owner-1", source, target, 30), ctx, TIMEOUT)
        ctx.uow.rollback()
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        bank.runner.run(request_then_fail, META)
    assert overdue_after(bank, 61) == []


def test_saga_completes_and_moves_the_money_on_the_store(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.settle()
    assert bank.status(transfer_id) == "completed"
    assert (bank.balance(source), bank.balance(target)) == (70, 30)


def test_sweeper_ends_a_stuck_transfer_on_the_store(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.clock.advance(seconds=61)  # nothing was ever delivered
    assert TransferSweeper(bank.deadlines, bank.process(), bank.clock).sweep_once() == 1
    assert bank.status(transfer_id) == "failed"
    assert overdue_after(bank, 0) == []
    assert bank.balance(source) == 100
