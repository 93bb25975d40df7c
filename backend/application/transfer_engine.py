"""The transfer engine: runs pending transfers to their end, many at a time.

A transfer says what it needs next (`Transfer.next_step`); the engine applies it, in rounds
(transfer_round.py): one command through the bus, so one transaction over every account and
transfer of a batch, each loaded once and saved under its stream's version guard (a conflict
with a concurrent deposit is retried by the bus, queueing for that stream).

- One engine of the deployment leads at a time; the others stand by to take over.
- By default a round claims its batch itself (ready rows of the transfer-work table, `FOR
  UPDATE SKIP LOCKED`) and takes it through every phase — holds, then credits, then captures
  or releases — before it commits: one transaction per batch, no lease needed (a round that
  dies rolls back and its rows are ready again). With `steps_per_round=1` each phase commits
  on its own; the batch is then claimed with a lease first, so that a dead engine's transfers
  go on elsewhere once it ends.
- One pass: the engine's events are not sent through the outbox back to anyone. The pass that
  commits them tells the users concerned (one push per user and resource per batch) and counts
  each transfer's end.

What the saga promises stays: the hold is the semantic lock, compensation releases it, the
deadline is decided by the transfer, steps are idempotent, and a transfer whose engine died
goes on from its committed state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from backend.application.command_bus import CommandBus, InlineProjector
from backend.application.commands import Advanced, AdvanceTransfers
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.metrics import CommandObserver, FinishedCommand, Metrics
from backend.application.ports.transfer_work import (
    ClaimedTransfer,
    EngineLeadership,
    TransferClaims,
)
from backend.application.ports.unit_of_work import UnitOfWork
from backend.domain.events import event_type
from backend.domain.transfer import TransferRequested

log = logging.getLogger(__name__)

#: The longest paths take three steps (hold, credit, capture; or hold, refused credit, release;
#: the time out and its release take two): a round of this many ends every transfer it can.
FUSED_STEPS: Final = 3
#: Rounds a claim runs at most: a step each when the engine commits each phase alone, plus
#: slack for a round that had to split.
MAX_ROUNDS: Final = 4
#: The `reason` of a transfer that did not fail.
NO_REASON: Final = "none"
_REQUESTED: Final = event_type(TransferRequested)

#: Tells the users concerned that these accounts and transfers changed (the push notifier).
Announce = Callable[[Collection[str], Collection[str]], None]


@dataclass
class TransferEngine:
    """Claims ready transfers and runs them, round by round, to their end."""

    bus: CommandBus
    claims: TransferClaims
    clock: Clock
    metrics: Metrics | None = None
    announce: Announce | None = None
    #: One engine of the deployment runs at a time (None: this one always may).
    leadership: EngineLeadership | None = None
    batch_size: int = 200
    #: How long a claim keeps a transfer from other engines (doubling with each attempt).
    lease: timedelta = timedelta(seconds=10)
    #: Phases per transaction: 1 commits each phase (holds; credits; captures or releases)
    #: on its own, so a hold shows before its credit; 3 (the default) commits a batch's whole
    #: saga at once, phase after phase in memory, at a third of the transactions (and of the
    #: CPU: bench/README.md) — the events, the order and the compensations are the same.
    steps_per_round: int = FUSED_STEPS

    def leads(self) -> bool:
        """Whether this engine is the one that runs transfers now."""
        return self.leadership is None or self.leadership.lead()

    def run_once(self) -> int:
        """Claim a batch of ready transfers and run it; how many were claimed (none while
        another engine leads)."""
        if not self.leads():
            return 0
        try:
            if not self.claims.ready(self.clock.now()):
                return 0
            if self.steps_per_round >= FUSED_STEPS:
                return self._run_fused()
            return self._run_leased()
        except BaseException:
            if self.leadership is not None:
                self.leadership.release()  # the database may have gone: lead afresh
            raise

    def _run_fused(self) -> int:
        """One transaction claims the batch and runs its whole saga: the claim needs no lease
        (a round that dies rolls back, and the rows are ready again at once). A batch that
        fails as a whole is run again by leased claims, transfer by transfer."""
        command = AdvanceTransfers((), self.steps_per_round, claim=self.batch_size)
        try:
            results = self.bus.execute(command, EventMetadata())
        except Exception:
            log.warning("a batch of transfers failed; running it one by one", exc_info=True)
            return self._run_leased()
        accounts: dict[str, None] = {}
        transfers: dict[str, None] = {}
        self._tally(results, {}, accounts, transfers)
        self._announce(accounts, transfers)
        return len(results)

    def _run_leased(self) -> int:
        claimed = self.claims.claim(self.clock.now(), self.lease, self.batch_size)
        if claimed:
            self.run(claimed)
        return len(claimed)

    def drive(self, transfer_id: str) -> str | None:
        """Run one transfer to its end without a claim (the demo, tests); its status."""
        now = self.clock.now()
        return self.run([ClaimedTransfer(transfer_id, None, now, 1)]).get(transfer_id)

    def run(self, claimed: Sequence[ClaimedTransfer]) -> dict[str, str]:
        """Rounds until every transfer ended or could not go on; each one's public status."""
        requested_at = {claim.transfer_id: claim.requested_at for claim in claimed}
        pending = {claim.transfer_id: claim.cause for claim in claimed}
        statuses: dict[str, str] = {}
        accounts: dict[str, None] = {}
        transfers: dict[str, None] = {}
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            results = self._round(pending)
            statuses.update(self._tally(results, requested_at, accounts, transfers))
            pending = {r.transfer_id: r.cause for r in results if r.moved and r.pending}
        self._announce(accounts, transfers)
        return statuses

    def _tally(
        self,
        results: list[Advanced],
        requested_at: dict[str, datetime],
        accounts: dict[str, None],
        transfers: dict[str, None],
    ) -> dict[str, str]:
        """Note what the results changed (for the push) and count the ends; the statuses."""
        for result in results:
            accounts.update(dict.fromkeys(result.accounts))
            if result.moved:
                transfers[result.transfer_id] = None
                started = result.requested_at or requested_at.get(result.transfer_id)
                if not result.pending and started is not None:
                    self._count_end(result, started)
        return {result.transfer_id: result.status for result in results}

    def _announce(self, accounts: dict[str, None], transfers: dict[str, None]) -> None:
        if self.announce is not None and (accounts or transfers):
            self.announce(list(accounts), list(transfers))

    def _round(self, pending: dict[str, str | None]) -> list[Advanced]:
        """One round for the whole batch; if it fails, each transfer alone, so that one broken
        transfer does not hold the others (it is claimed again when its lease ends)."""
        try:
            return self._execute(tuple(pending.items()))
        except Exception:
            if len(pending) == 1:
                log.exception("transfer %s could not go on; retried later", *pending)
                return []
        results: list[Advanced] = []
        for item in pending.items():
            try:
                results.extend(self._execute((item,)))
            except Exception:
                log.exception("transfer %s could not go on; retried later", item[0])
        return results

    def _execute(self, items: tuple[tuple[str, str | None], ...]) -> list[Advanced]:
        return self.bus.execute(AdvanceTransfers(items, self.steps_per_round), EventMetadata())

    def _count_end(self, result: Advanced, requested_at: datetime) -> None:
        if self.metrics is None:
            return
        seconds = max(0.0, (self.clock.now() - requested_at).total_seconds())
        try:  # a metric is never worth failing a batch that committed
            self.metrics.transfer_finished(result.status, result.reason or NO_REASON, seconds)
        except Exception:
            log.warning("could not count the end of transfer %s", result.transfer_id, exc_info=True)


def with_work_tracking(projector: InlineProjector) -> InlineProjector:
    """The CommandBus's inline hook, extended to keep the transfer-work table in the same
    transaction as the transfer events (so the engines see every transfer after a crash)."""

    def project(uow: UnitOfWork, appended: Sequence[StoredEvent]) -> None:
        projector(uow, appended)
        uow.transfer_work.track(appended)

    return project


def waking_on_requests(wake: Callable[[], None]) -> CommandObserver:
    """A command observer: wake this process's engine when a command requested a transfer."""

    def after_command(finished: FinishedCommand) -> None:
        if any(event.type == _REQUESTED for event in finished.events):
            wake()

    return after_command
