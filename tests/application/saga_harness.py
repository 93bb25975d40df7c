"""A bank over memory adapters whose messages the test delivers by hand: in order, twice,
out of order, late, or never."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from backend.adapters.outbound.memory.transfer_deadlines import InMemoryOverdueTransfers
from backend.application import accounts
from backend.application.command_runner import CommandRunner
from backend.application.commands import CloseAccount, Deposit, OpenAccount, RequestTransfer
from backend.application.messaging import MessageDispatcher, subscribe_transfer_process
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.job_queue import FailedJob
from backend.application.ports.metrics import FinishedCommand
from backend.application.relay import OutboxRelay, Wakeup
from backend.application.sweeper import TransferSweeper
from backend.application.transfers import TransferProcess, request_transfer
from backend.domain.account import Account
from backend.domain.transfer import Transfer
from tests.application.crashes import AppendBudget, CrashingUnitOfWork, ProcessDied
from tests.fakes import InMemoryApp

TIMEOUT = timedelta(seconds=60)


@dataclass
class CollectingJobQueue:
    """A JobQueue that keeps each batch for the test to deliver however it likes."""

    batches: list[list[StoredEvent]] = field(default_factory=list)

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        self.batches.extend(list(batch) for batch in batches)

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return []


class Bank:
    """The application with the transfer saga wired, and helpers to drive and inspect it."""

    def __init__(self, batch_size: int = 100) -> None:
        self.app = InMemoryApp()
        #: Every command the bank's runner finished, for tests that count what a step cost.
        self.finished: list[FinishedCommand] = []
        #: Spent by every append: `stop_saga_after` kills the process once it runs out.
        self.crashes = AppendBudget()
        self.runner: CommandRunner = self.app.runner(
            observers=(self.finished.append,),
            uow_factory=lambda: CrashingUnitOfWork(self.app.uow(), self.crashes),
        )
        self.process = TransferProcess(self.runner)
        #: Woken after each delivered batch, as the container wires it (see start_messaging).
        self.relay_wakeup = Wakeup()
        self.dispatcher = MessageDispatcher(after_dispatch=(self.relay_wakeup.wake,))
        subscribe_transfer_process(self.dispatcher, self.process)
        self.queue = CollectingJobQueue()
        self.relay = OutboxRelay(self.app.uow, self.queue, batch_size=batch_size)
        self.deadlines = InMemoryOverdueTransfers(self.app.db)
        self.sweeper = TransferSweeper(self.deadlines, self.process, self.app.clock)

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

    def stop_saga_after(self, transfer_id: str, steps: int) -> None:
        """Run the transfer's first job on the real driver (`TransferProcess.drive`) in a
        process that dies after the saga's first `steps` steps (their events committed, the
        next step's transaction lost): the saga stands where such a job leaves it."""
        with self.crashes.dying_after(steps):
            try:
                self.process.drive(transfer_id)
            except ProcessDied:
                return
        raise AssertionError(f"the saga ended within {steps} steps: nothing to stop")

    # -- messages ---------------------------------------------------------------------------

    def relay_pending(self) -> None:
        self.relay.relay_all()

    def deliver_next(self, times: int = 1) -> list[StoredEvent]:
        """Relay, then deliver the oldest queued batch `times` times."""
        self.relay_pending()
        batch = self.queue.batches.pop(0)
        for _ in range(times):
            self.dispatcher.dispatch(batch)
        return batch

    def run_until_quiet(self, times: int = 1) -> list[StoredEvent]:
        """Deliver every message (each `times` times) until nothing new is produced."""
        delivered: list[StoredEvent] = []
        self.relay_pending()
        while self.queue.batches:
            delivered.extend(self.deliver_next(times))
            self.relay_pending()
        return delivered

    def drop_messages(self) -> None:
        """Lose every queued and pending message (a crash of an in-process queue)."""
        self.relay_pending()
        self.queue.batches.clear()

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

    def stream(self, stream_id: str) -> list[StoredEvent]:
        return list(self.app.db.streams.get(stream_id, []))

    def saga_events(self, transfer_id: str) -> list[StoredEvent]:
        """The transfer's own events and the account events it caused, in global order."""
        return [
            event
            for event in self.app.db.events
            if event.stream_id == transfer_id or event.data.get("transfer_id") == transfer_id
        ]
