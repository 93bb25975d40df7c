"""R8: a seeded, deterministic simulation of the bank (after TigerBeetle's VOPR).

A hypothesis RuleBasedStateMachine drives the real application layer on the in-memory
adapters: clients open, deposit, withdraw, close and transfer; transfer engines claim batches
of any size and die after any number of appended events (between two rounds or inside one),
die right after claiming, or run a transfer another engine holds (its lease ran out too
early); the clock jumps (leases end, deadlines pass); the relay sends the outbox's command
events to a queue whose jobs run out of order, or twice. The clock is fixed and ids
sequential, so a rule sequence always produces the same event log: the shrunk trace
hypothesis prints for a failure replays exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.adapters.outbound.memory.transfer_work import InMemoryTransferClaims
from backend.application import accounts as account_commands
from backend.application import commands
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.transfer_work import MAX_LEASE
from backend.application.projections.inline import inline_projector
from backend.application.relay import OutboxRelay
from backend.application.repository import Repository
from backend.application.transfer_engine import TransferEngine
from backend.application.transfers import request_transfer
from backend.domain import errors
from backend.domain.account import Account
from tests.application.crashes import AppendBudget, CrashingUnitOfWork, ProcessDied
from tests.application.saga_harness import CollectingJobQueue
from tests.fakes import BusRunner, InMemoryApp, bus_for_tests
from tests.reliability.simulation_checks import (
    CODEC,
    PROJECTIONS,
    assert_rebuild_equals_live,
    credited_not_captured,
    digest,
    follower,
    pending_transfers,
)

REFUSALS = (errors.DomainError,)
AMOUNTS = st.integers(1, 300)
BATCHES = st.integers(1, 4)
LEASE = timedelta(seconds=10)
#: What only the transfer engines append: never sent through the outbox.
ENGINE_EVENTS = frozenset({
    "FundsHeld", "TransferFundsHeld", "MoneyCredited", "TransferTargetCredited", "HoldCaptured",
    "TransferCompleted", "TransferCompensationStarted", "HoldReleased", "TransferFailed",
})  # fmt: skip


@dataclass
class RecordingQueue(CollectingJobQueue):
    """The queue's jobs, kept for the rules to run, and every event ever sent to it."""

    sent: list[StoredEvent] = field(default_factory=list)

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        super().enqueue_batches(batches)
        self.sent.extend(event for batch in batches for event in batch)


class BankSimulation(RuleBasedStateMachine):
    """Clients, engines, network and clock as rules; the bank's promises as invariants."""

    accounts = Bundle("accounts")
    #: When set, each example's final event log digest is appended (replay checks).
    digests: list[str] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.app = InMemoryApp()
        #: Spent by every append while an engine runs that is to die.
        self.crashes = AppendBudget()
        self.runner = BusRunner(bus_for_tests(
            lambda: CrashingUnitOfWork(self.app.uow(), self.crashes), self.app.clock,
            self.app.ids, snapshot_every=3, inline_projector=inline_projector(PROJECTIONS),
        ))  # fmt: skip
        self.claims = InMemoryTransferClaims(self.app.db)
        self.engine = TransferEngine(self.runner.bus, self.claims, self.app.clock, lease=LEASE)
        self.queue = RecordingQueue()
        # One event per job: the most ways to interleave and duplicate them.
        self.relay = OutboxRelay(self.app.uow, self.queue, 1, 10)
        self.owners: dict[str, str] = {}
        self.loaded: dict[str, tuple[int, Account | None]] = {}  # by stream version
        self.inflow: Counter[str] = Counter()  # deposits - withdrawals, per currency

    def run(self, handler: Any, owner: str = "system") -> Any:
        return self.runner.run(handler, EventMetadata(user_id=owner))

    # --- clients ------------------------------------------------------------------------

    @initialize(target=accounts, funds=st.integers(1, 900))
    def start_the_bank(self, funds: int) -> MultipleResults[str]:
        """Two funded accounts of two owners (so every example trades)."""
        opened = [self.opened("ann", "EUR"), self.opened("bob", "EUR")]
        for account_id in opened:
            self.deposit(account_id, funds)
        return multiple(*opened)

    @precondition(lambda self: len(self.owners) < 5)
    @rule(target=accounts, owner=st.sampled_from(["ann", "bob"]), usd=st.booleans())
    def open_account(self, owner: str, usd: bool) -> str:
        return self.opened(owner, "USD" if usd else "EUR")

    def opened(self, owner: str, currency: str) -> str:
        command = commands.OpenAccount(owner, "Sim", currency)
        account_id: str = self.run(
            lambda ctx: account_commands.open_account(command, ctx), owner
        ).id
        self.owners[account_id] = owner
        return account_id

    @rule(account=accounts, amount=AMOUNTS)
    def deposit(self, account: str, amount: int) -> None:
        command = commands.Deposit(self.owners[account], account, amount)
        if self.attempt(lambda ctx: account_commands.deposit(command, ctx), account):
            self.inflow[self.all_accounts()[account].currency] += amount

    @rule(account=accounts, amount=AMOUNTS)
    def withdraw(self, account: str, amount: int) -> None:
        command = commands.Withdraw(self.owners[account], account, amount)
        if self.attempt(lambda ctx: account_commands.withdraw(command, ctx), account):
            self.inflow[self.all_accounts()[account].currency] -= amount

    @rule(account=accounts)
    def close(self, account: str) -> None:
        command = commands.CloseAccount(self.owners[account], account)
        self.attempt(lambda ctx: account_commands.close_account(command, ctx), account)

    @rule(
        source=accounts,
        to=st.one_of(accounts, accounts, accounts, st.just("ghost")),
        amount=AMOUNTS,
    )
    def transfer(self, source: str, to: str, amount: int) -> None:
        command = commands.RequestTransfer(self.owners[source], source, to, amount, "sim")
        self.attempt(lambda ctx: request_transfer(command, ctx), source)

    def attempt(self, handler: Any, account: str) -> bool:
        try:
            self.run(handler, self.owners[account])
        except REFUSALS:
            return False
        return True

    # --- transfer engines and time ----------------------------------------------------

    @rule(batch=BATCHES)
    def an_engine_runs(self, batch: int) -> None:
        """An engine claims up to `batch` ready transfers and runs them to their end."""
        self.engine.batch_size = batch
        self.engine.run_once()

    @rule(batch=BATCHES, events=st.integers(0, 12))
    def an_engine_dies_mid_batch(self, batch: int, events: int) -> None:
        """An engine claims a batch and dies at the append that would go past `events`
        events: its rounds before committed, the one under way rolled back; the batch stays
        claimed until the lease ends."""
        self.engine.batch_size = batch
        with self.crashes.dying_after(events):
            try:
                self.engine.run_once()
            except ProcessDied:
                return

    @rule(batch=BATCHES)
    def an_engine_dies_after_claiming(self, batch: int) -> None:
        self.claims.claim(self.app.clock.now(), LEASE, batch)

    @rule(data=st.data())
    def another_engine_runs_a_pending_transfer(self, data: st.DataObject) -> None:
        """A pending transfer, claimed or not, is run by an engine without a claim (as when a
        lease ran out too early, e.g. a paused process): every step must be idempotent."""
        if pending := sorted(pending_transfers(self.app.db)):
            self.engine.drive(data.draw(st.sampled_from(pending)))

    @rule(seconds=st.sampled_from([0, 1, 5, 10, 30, 61]))
    def time_passes(self, seconds: int) -> None:
        """Leases end (then another engine may take their transfers), deadlines pass."""
        self.app.clock.advance(seconds=seconds)

    # --- the outbox: command events to the push side --------------------------------------

    @rule()
    def the_relay_sends(self) -> None:
        self.relay.relay_once()

    @rule(data=st.data(), twice=st.booleans())
    def a_job_runs(self, data: st.DataObject, twice: bool) -> None:
        """Any queued job runs (out of order); `twice`: it stays queued, to run again."""
        if jobs := self.queue.batches:
            index = data.draw(st.integers(0, len(jobs) - 1))
            self.deliver(jobs[index] if twice else jobs.pop(index))

    def deliver(self, batch: list[StoredEvent]) -> None:
        """What the push notifier is handed: command events only."""
        assert not [event.type for event in batch if event.type in ENGINE_EVENTS]

    @rule()
    def projection_follower_runs(self) -> None:
        follower(self.app.db).run_page()

    # --- what must always hold ---------------------------------------------------------

    @invariant()
    def money_is_conserved_never_negative_and_shown_as_it_is(self) -> None:
        """Mid-flight: balances >= 0, available <= balance, the total equals deposits minus
        withdrawals plus credits not yet captured; the read models show every account."""
        in_flight = credited_not_captured(self.app.db.events)
        totals: Counter[str] = Counter()
        reader = InMemoryReadModelReader(self.app.db)
        for account_id, account in self.all_accounts().items():
            summary = reader.account(account_id)
            assert 0 <= account.available <= account.balance, account_id
            totals[account.currency] += account.balance
            assert summary is not None
            assert (summary.balance, summary.held, summary.version, summary.status) == (
                account.balance, account.held, account.version, account.status,
            )  # fmt: skip
        for currency in set(totals) | set(self.inflow):
            assert totals[currency] == self.inflow[currency] + in_flight[currency], currency

    @invariant()
    def the_work_table_holds_exactly_the_pending_transfers(self) -> None:
        with self.app.db.lock:
            assert set(self.app.db.transfer_work) == set(pending_transfers(self.app.db))
            assert not [e for e in self.app.db.outbox.values() if e.type in ENGINE_EVENTS]

    def all_accounts(self) -> dict[str, Account]:
        """The accounts as their events say (reloaded only when their stream grew)."""
        versions = {a: len(self.app.db.streams.get(a, ())) for a in self.owners}
        stale = [a for a, v in versions.items() if self.loaded.get(a, (-1, None))[0] != v]
        with self.app.uow() as uow:
            repository = Repository(Account, uow, CODEC, self.app.clock, self.app.ids)
            self.loaded |= {a: (versions[a], repository.get(a)) for a in stale}
        found = {a: self.loaded[a][1] for a in self.owners}
        assert None not in found.values()
        return found  # type: ignore[return-value]  # None was just ruled out

    def teardown(self) -> None:
        """At quiescence: every transfer ended, the books balance, no hold is left, and
        exactly the command events went through the outbox."""
        self.settle()
        assert not pending_transfers(self.app.db), "a transfer never ended"
        assert not credited_not_captured(self.app.db.events)
        assert not [a for a, account in self.all_accounts().items() if account.held], "holds left"
        self.money_is_conserved_never_negative_and_shown_as_it_is()
        self.the_work_table_holds_exactly_the_pending_transfers()
        assert_rebuild_equals_live(self.app.db)
        published = [e.position for e in self.app.db.events if e.type not in ENGINE_EVENTS]
        assert sorted({e.position for e in self.queue.sent}) == published
        if BankSimulation.digests is not None:
            BankSimulation.digests.append(digest(self.app.db.events))

    def settle(self) -> None:
        """Every lease ends, deadlines pass, an engine runs what is ready; until no transfer
        is pending (a transfer that can never go on fails the teardown). Then the relay sends
        the rest of the outbox and every job runs."""
        self.engine.batch_size = 200
        for _ in range(10):
            self.app.clock.advance(seconds=MAX_LEASE.total_seconds())
            while self.engine.run_once():
                pass
            if not pending_transfers(self.app.db):
                break
        self.relay.relay_all()
        while self.queue.batches:
            self.deliver(self.queue.batches.pop(0))
