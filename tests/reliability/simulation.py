"""R8: a seeded, deterministic simulation of the bank (after TigerBeetle's VOPR).

A hypothesis RuleBasedStateMachine drives the real application layer on the in-memory
adapters: clients open, deposit, withdraw, close and transfer; the "network" delivers jobs out
of order, twice, or partly before a crash; the clock jumps and the sweeper runs. The clock is
fixed and ids sequential, so a rule sequence always produces the same event log: the shrunk
trace hypothesis prints for a failure replays exactly. Two deployments (drawn per example):
the in-process queue, which dies with its process (rows are acknowledged after their job ran
and re-sent on restart), and rq, whose jobs survive a crash but the running one (swept).
"""

from __future__ import annotations

from collections import Counter
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
from backend.adapters.outbound.memory.transfer_deadlines import InMemoryOverdueTransfers
from backend.application import accounts as account_commands
from backend.application import commands
from backend.application.command_runner import CommandRunner
from backend.application.messaging import build_dispatcher
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.projections.inline import inline_projector
from backend.application.relay import InFlightRows, OutboxRelay
from backend.application.repository import Repository
from backend.application.sweeper import TransferSweeper, with_deadline_tracking
from backend.application.transfers import TransferProcess, request_transfer
from backend.domain import errors
from backend.domain.account import Account
from tests.application.saga_harness import CollectingJobQueue
from tests.fakes import InMemoryApp
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
IN_PROCESS, RQ = "in_process", "rq"
#: The events the transfer saga subscribes to (backend/application/messaging.py): each drives
#: its transfer as far as it can go, so a crash in any of their jobs is a case to try.
SAGA_STEPS = ("TransferRequested", "FundsHeld", "TransferFundsHeld", "MoneyCredited",
              "TransferTargetCredited", "HoldCaptured", "TransferCompensationStarted",
              "HoldReleased")  # fmt: skip


class BankSimulation(RuleBasedStateMachine):
    """Clients, network and clock as rules; the bank's promises as invariants."""

    accounts = Bundle("accounts")
    #: When set, each example's final event log digest is appended (replay checks).
    digests: list[str] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.app = InMemoryApp()
        self.deadlines = InMemoryOverdueTransfers(self.app.db)
        self.runner = CommandRunner(
            self.app.uow, CODEC, self.app.clock, self.app.ids, snapshot_every=3,
            inline_projector=with_deadline_tracking(inline_projector(PROJECTIONS)),
            sleep=lambda _: None,
        )  # fmt: skip
        self.process = TransferProcess(self.runner)
        self.dispatcher = build_dispatcher(self.process)
        self.queue = CollectingJobQueue()
        self.sweeper = TransferSweeper(self.deadlines, self.process, self.app.clock)
        self.owners: dict[str, str] = {}
        self.loaded: dict[str, tuple[int, Account | None]] = {}  # by stream version
        self.inflow: Counter[str] = Counter()  # deposits - withdrawals, per currency
        self.mode = IN_PROCESS
        self.relay = self.start_relay()

    def start_relay(self) -> OutboxRelay:
        """A (re)started process's relay: sends whatever is pending, as on start-up."""
        # One event per job: the most ways to interleave, duplicate and lose them.
        in_flight = InFlightRows(self.app.uow) if self.mode == IN_PROCESS else None
        relay = OutboxRelay(self.app.uow, self.queue, 1, 10, in_flight)
        relay.relay_all()
        return relay

    def run(self, handler: Any, owner: str = "system") -> Any:
        return self.runner.run(handler, EventMetadata(user_id=owner))

    # --- clients ------------------------------------------------------------------------

    @initialize(target=accounts, mode=st.sampled_from([IN_PROCESS, RQ]), funds=st.integers(1, 900))
    def start_the_bank(self, mode: str, funds: int) -> MultipleResults[str]:
        """The deployment, and two funded accounts of two owners (so every example trades)."""
        self.mode = mode
        self.relay = self.start_relay()
        opened = [self.opened("ann", "EUR"), self.opened("bob", "EUR")]
        for account_id in opened:
            self.deposit(account_id, funds)
        self.settle()  # those events drive nothing: keep the queue for the interesting ones
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

    # --- network, processes and time ---------------------------------------------------

    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """The relay polls, then any queued job runs (so jobs run out of order)."""
        if jobs := self.queued():
            self.dispatch(jobs.pop(data.draw(st.integers(0, len(jobs) - 1))))

    @rule(jobs=st.integers(1, 8))
    def jobs_run_in_order(self, jobs: int) -> None:
        """The oldest jobs run one by one, with what they cause: sagas get far in one step."""
        for _ in range(jobs):
            if queued := self.queued():
                self.dispatch(queued.pop(0))

    @rule(step=st.sampled_from(SAGA_STEPS))
    def crash_at_a_saga_step(self, step: str) -> None:
        """Jobs run in order until the one that handles `step`; the process dies in it."""
        for _ in range(10):
            if not (queued := self.queued()):
                return
            if queued[0][0].type == step:
                self.crash_in(queued.pop(0), done=0)
                return
            self.dispatch(queued.pop(0))

    @rule(data=st.data())
    def duplicate_job(self, data: st.DataObject) -> None:
        """A job runs twice (a retry after a lost acknowledgement) and stays queued: it will
        be delivered once more, later."""
        if jobs := self.queued():
            batch = data.draw(st.sampled_from(jobs))
            self.dispatch(batch)
            self.dispatch(batch)

    @rule(data=st.data())
    def reorder_jobs(self, data: st.DataObject) -> None:
        if len(jobs := self.queued()) > 1:
            self.queue.batches = data.draw(st.permutations(jobs))

    @rule(data=st.data())
    def crash_after_append(self, data: st.DataObject) -> None:
        """A process dies inside a job, after its first steps committed their events."""
        if jobs := self.queued():
            batch = jobs.pop(data.draw(st.integers(0, len(jobs) - 1)))
            self.crash_in(batch, done=data.draw(st.integers(0, len(batch))))

    def crash_in(self, batch: list[StoredEvent], done: int) -> None:
        """The process dies running `batch`, after its first `done` events were handled."""
        self.dispatcher.dispatch(batch[:done])
        if self.mode == IN_PROCESS:  # the queue died with the process; it starts again
            self.queue.batches.clear()
            self.relay = self.start_relay()
        # rq: the running job is lost with its worker; only the sweeper can finish it.

    def queued(self) -> list[list[StoredEvent]]:
        """The relay polls; jobs that no subscriber reacts to run at once (they change
        nothing), so the rules spend their steps on the saga's jobs."""
        self.relay.relay_once()
        for batch in [b for b in self.queue.batches if not self.reacts_to(b)]:
            self.queue.batches.remove(batch)
            self.dispatch(batch)
        return self.queue.batches

    def reacts_to(self, batch: list[StoredEvent]) -> bool:
        return any(event.type in self.dispatcher.subscribers for event in batch)

    @rule(seconds=st.sampled_from([0, 1, 5, 30, 61]))
    def time_passes_and_the_sweeper_runs(self, seconds: int) -> None:
        self.app.clock.advance(seconds=seconds)
        self.sweeper.sweep_once()

    @rule()
    def projection_follower_runs(self) -> None:
        follower(self.app.db).run_page()

    def dispatch(self, batch: list[StoredEvent]) -> None:
        self.dispatcher.dispatch(batch)
        if self.relay.in_flight is not None:
            self.relay.in_flight.acknowledge(batch)

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
        """At quiescence: every transfer ended, the books balance, no hold is left."""
        self.settle()
        assert not pending_transfers(self.app.db), "a transfer never ended"
        assert not credited_not_captured(self.app.db.events)
        assert not [a for a, account in self.all_accounts().items() if account.held], "holds left"
        self.money_is_conserved_never_negative_and_shown_as_it_is()
        assert_rebuild_equals_live(self.app.db)
        if BankSimulation.digests is not None:
            BankSimulation.digests.append(digest(self.app.db.events))

    def settle(self) -> None:
        """Deliver everything; let deadlines pass and sweep; until no transfer is pending."""
        for _ in range(10):
            self.relay.relay_all()
            while self.queue.batches:
                self.dispatch(self.queue.batches.pop(0))
                self.relay.relay_all()
            self.app.clock.advance(seconds=120)
            if not self.sweeper.sweep_once() and not self.app.db.outbox:
                return
