"""A small bank that writes fixed event sequences for read-side tests, on any backend.

Transfers are driven step by step on the aggregates (one transaction per step, as the
transfer process does), so these tests do not depend on the process's own module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.read_models import ReadModelReader
from backend.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from backend.application.projections import default_projections
from backend.application.projections.inline import inline_projector
from backend.application.projections.runner import ProjectionRunner
from backend.domain.account import Account
from backend.domain.money import Money
from backend.domain.transfer import FailureReason, Transfer
from backend.entrypoints.cli.migrate import upgrade_database
from tests.fakes import FixedClock, SequentialIds


def bank_runner(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, *, inline: bool = True
) -> CommandRunner:
    """A command runner; `inline` plugs in the read-your-writes projector."""
    codec = default_codec()
    runner = CommandRunner(uow_factory, codec, clock, SequentialIds("ev"), sleep=lambda _: None)
    if inline:
        runner.inline_projector = inline_projector(default_projections(codec))
    return runner


@dataclass
class Bank:
    """Commands on accounts and transfers, each run in its own transaction."""

    runner: CommandRunner
    clock: FixedClock
    currency: str = "EUR"
    meta: EventMetadata = field(default_factory=EventMetadata)

    def run(self, handler: Callable[[CommandContext], object]) -> None:
        self.runner.run(handler, self.meta)

    def open(self, account_id: str, owner_id: str, name: str = "Main") -> None:
        account = Account.open(account_id, owner_id, name, self.currency)
        self.run(lambda ctx: ctx.accounts.save(account, ctx.metadata))

    def _on_account(self, account_id: str, change: Callable[[Account], object]) -> None:
        def handler(ctx: CommandContext) -> None:
            account = ctx.accounts.get(account_id)
            assert account is not None, account_id
            change(account)
            ctx.accounts.save(account, ctx.metadata)

        self.run(handler)

    def _on_transfer(self, transfer_id: str, change: Callable[[Transfer], object]) -> None:
        def handler(ctx: CommandContext) -> None:
            transfer = ctx.transfers.get(transfer_id)
            assert transfer is not None, transfer_id
            change(transfer)
            ctx.transfers.save(transfer, ctx.metadata)

        self.run(handler)

    def deposit(self, account_id: str, amount: int, reference: str | None = None) -> None:
        money = Money(amount, self.currency)
        self._on_account(account_id, lambda a: a.deposit(money, reference))

    def withdraw(self, account_id: str, amount: int, reference: str | None = None) -> None:
        money = Money(amount, self.currency)
        self._on_account(account_id, lambda a: a.withdraw(money, reference))

    def close(self, account_id: str) -> None:
        self._on_account(account_id, lambda a: a.close())

    def request(self, transfer_id: str, source: str, target: str, amount: int, owner: str) -> None:
        money, now = Money(amount, self.currency), self.clock.now()
        transfer = Transfer.request(
            transfer_id, source, target, money, f"ref {transfer_id}", owner, now, timedelta(1)
        )
        self.run(lambda ctx: ctx.transfers.save(transfer, ctx.metadata))
        self._on_account(source, lambda a: a.place_hold(transfer_id, money))
        self._on_transfer(transfer_id, lambda t: t.hold_placed(self.clock.now()))

    def complete(self, transfer_id: str, source: str, target: str, amount: int) -> None:
        money, reference = Money(amount, self.currency), f"ref {transfer_id}"
        self._on_account(target, lambda a: a.credit(transfer_id, money, source, reference))
        self._on_transfer(transfer_id, lambda t: t.target_credited())
        self._on_account(source, lambda a: a.capture_hold(transfer_id, target, reference))
        self._on_transfer(transfer_id, lambda t: t.hold_captured())

    def transfer(self, transfer_id: str, source: str, target: str, amount: int, owner: str) -> None:
        self.request(transfer_id, source, target, amount, owner)
        self.complete(transfer_id, source, target, amount)

    def fail(self, transfer_id: str, source: str, reason: FailureReason) -> None:
        """Compensate a transfer whose funds are held: release the hold, then fail."""
        self._on_transfer(transfer_id, lambda t: t.credit_refused(reason))
        self._on_account(source, lambda a: a.release_hold(transfer_id))
        self._on_transfer(transfer_id, lambda t: t.hold_released())


@dataclass
class ReadSide:
    """One backend: units of work for commands and followers, a reader for queries."""

    name: str
    uow: Callable[[], UnitOfWork]
    reader: ReadModelReader
    engine: Engine | None = None

    def follower(self, page_size: int = 1000) -> ProjectionRunner:
        projections = default_projections(default_codec())
        return ProjectionRunner(self.uow, projections, self.reader, page_size)

    def bank(self, *, inline: bool = True, clock: FixedClock | None = None) -> Bank:
        clock = clock or FixedClock()
        return Bank(bank_runner(self.uow, clock, inline=inline), clock)


def memory_read_side() -> ReadSide:
    """The in-memory backend: units of work and a reader over one fresh InMemoryDatabase."""
    db = InMemoryDatabase()
    return ReadSide("memory", lambda: InMemoryUnitOfWork(db), InMemoryReadModelReader(db))


def migrated_engine(url: str) -> Engine:
    upgrade_database(url)
    return create_engine_for(url)


def sql_read_side(name: str, engine: Engine) -> ReadSide:
    return ReadSide(
        name, lambda: SqlAlchemyUnitOfWork(engine), SqlAlchemyReadModelReader(engine), engine
    )


def dump(reader: ReadModelReader, owners: dict[str, list[str]]) -> dict[str, object]:
    """Every read-model row reachable from these owners and their accounts."""
    rows: dict[str, object] = {}
    for owner, account_ids in owners.items():
        rows[f"accounts:{owner}"] = reader.accounts_of(owner, None, 10_000)
        rows[f"transfers:{owner}"] = reader.transfers_visible_to(owner, None, None, None, 10_000)
        for account_id in account_ids:
            rows[f"transactions:{account_id}"] = reader.transactions_of(account_id, None, 10_000)
            rows[f"daily:{account_id}"] = reader.daily_totals_of(account_id)
    return rows
