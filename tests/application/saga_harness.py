"""A bank over memory adapters whose transfer engine the test runs by hand: to the end, or
killed between two rounds (or inside one), then again once the claim's lease ran out."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from backend.adapters.outbound.memory.transfer_work import InMemoryTransferClaims
from backend.application import accounts
from backend.application.commands import CloseAccount, Deposit, OpenAccount, RequestTransfer
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.job_queue import FailedJob
from backend.application.ports.metrics import FinishedCommand
from backend.application.relay import OutboxRelay
from backend.application.transfer_engine import FUSED_STEPS, TransferEngine
from backend.application.transfers import request_transfer
from backend.domain.account import Account
from backend.domain.transfer import Transfer
from tests.application.crashes import AppendBudget, CrashingUnitOfWork, ProcessDied
from tests.fakes import BusRunner, InMemoryApp

TIMEOUT = timedelta(seconds=60)
#: The engine's claim lease in these tests: a dead engine's transfers are ready again after it.
LEASE = timedelta(seconds=10)


@dataclass
class CollectingJobQueue:
    """A JobQueue that keeps each batch for the test to deliver however it likes."""

    batches: list[list[StoredEvent]] = field(default_factory=list)

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        self.batches.extend(list(batch) for batch in batches)

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return []


@dataclass
class Announcements:
    """What the engine told the push side, run by run."""

    runs: list[tuple[list[str], list[str]]] = field(default_factory=list)

    def __call__(self, account_ids: Collection[str], transfer_ids: Collection[str]) -> None:
        self.runs.append((list(account_ids), list(transfer_ids)))


class Bank:
    """The application with the transfer engine wired, and helpers to drive and inspect it."""

    def __init__(
        self,
        batch_size: int = 200,
        relay_batch_size: int = 100,
        steps_per_round: int = FUSED_STEPS,
    ) -> None:
        self.app = InMemoryApp()
        #: Every command the bank's runner finished, for tests that count what a round cost.
        self.finished: list[FinishedCommand] = []
        #: Spent by every append: `stop_engine_after` kills the process once it runs out.
        self.crashes = AppendBudget()
        self.runner: BusRunner = self.app.runner(
            observers=(self.finished.append,),
            uow_factory=lambda: CrashingUnitOfWork(self.app.uow(), self.crashes),
        )
        self.claims = InMemoryTransferClaims(self.app.db)
        self.announced = Announcements()
        self.engine = TransferEngine(
            self.runner.bus, self.claims, self.app.clock,
            announce=self.announced, batch_size=batch_size, lease=LEASE,
            steps_per_round=steps_per_round,
        )  # fmt: skip
        self.queue = CollectingJobQueue()
        #: The outbox relay: it carries the commands' events (not the engine's) to the queue.
        self.relay = OutboxRelay(self.app.uow, self.queue, batch_size=relay_batch_size)

    # -- commands ---------------------------------------------------------------------------

    def open(self, balance: int = 0, currency: str = "EUR", owner: str = "owner-1") -> str:
        meta = EventMetadata(user_id=owner)
        opened = OpenAccount(owner, "Everyday", currency)
        account_id = self.runner.run(lambda ctx: accounts.open_account(opened, ctx), meta).id
        if balance:
            deposit = Deposit(owner, account_id, balance)
            self.runner.run(lambda ctx: accounts.deposit(deposit, ctx), meta)
        return account_id

    def close(self, account_id: str, owner: str = "owner-1") -> None:
        command = CloseAccount(owner, account_id)
        self.runner.run(lambda ctx: accounts.close_account(command, ctx), EventMetadata())

    def transfer(self, source: str, target: str, amount: int, owner: str = "owner-1") -> str:
        command = RequestTransfer(owner, source, target, amount, reference="rent")
        meta = EventMetadata(user_id=owner, request_id="req-1")
        return self.runner.run(lambda ctx: request_transfer(command, ctx, TIMEOUT), meta).id

    def relay_pending(self) -> None:
        self.relay.relay_all()

    # -- the engine -------------------------------------------------------------------------

    def run_until_quiet(self) -> int:
        """Claim and run every ready transfer until none is ready; how many claims ran."""
        claims = 0
        while ran := self.engine.run_once():
            claims += ran
        return claims

    def stop_engine_after(self, events: int) -> None:
        """Claim every ready transfer and run them on the real engine in a process that dies
        at the append that would go past `events` events (that round rolled back, the rounds
        before it committed): the transfers stand where such an engine leaves them."""
        with self.crashes.dying_after(events):
            try:
                self.engine.run_once()
            except ProcessDied:
                return
        raise AssertionError(f"the engine ended within {events} events: nothing to stop")

    def after_the_lease(self) -> None:
        """Let the claims of a dead engine run out (well before a transfer's deadline)."""
        self.app.clock.advance(seconds=LEASE.total_seconds() + 1)

    # -- inspection -------------------------------------------------------------------------

    def account(self, account_id: str) -> Account:
        found = self.runner.run(lambda ctx: ctx.accounts.get(account_id), EventMetadata())
        assert found is not None
        return found

    def transfer_state(self, transfer_id: str) -> Transfer:
        found = self.runner.run(lambda ctx: ctx.transfers.get(transfer_id), EventMetadata())
        assert found is not None
        return found

    def head(self) -> int:
        with self.app.db.lock:
            return len(self.app.db.events)

    def pending_work(self) -> list[str]:
        with self.app.db.lock:
            return sorted(self.app.db.transfer_work)

    def stream(self, stream_id: str) -> list[StoredEvent]:
        return list(self.app.db.streams.get(stream_id, []))

    def saga_events(self, transfer_id: str) -> list[StoredEvent]:
        """The transfer's own events and the account events it caused, in global order."""
        return [
            event
            for event in self.app.db.events
            if event.stream_id == transfer_id or event.data.get("transfer_id") == transfer_id
        ]
