"""The transfer engine: runs pending transfers to their end, many at a time.

A transfer says what it needs next (`Transfer.next_step`); the engine applies it. One engine
of the deployment leads at a time (the others stand by to take over). It claims a batch of
ready transfers (rows of the transfer-work table; a dead engine's claims are taken again once
their lease ends), then runs rounds: in each, every
transfer of the batch takes its next step — the account change and the transfer's record of it
— all in ONE command through the bus, so one transaction over every account and transfer the
round touches, each loaded once and saved under its stream's version guard (a conflict with a
concurrent deposit is retried by the bus, queueing for that stream). Three rounds end a normal
batch: holds, credits, captures (a refused credit or a deadline adds a release).

One pass: the engine's events are not sent through the outbox back to anyone. The pass that
commits them tells the users concerned (one push per user and resource per batch) and counts
each transfer's end. What the saga promises stays: the hold is the semantic lock, compensation
releases it, the deadline is decided by the transfer, steps are idempotent, and a transfer
whose engine died goes on from its committed state under another claim.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from backend.application.command_bus import CommandBus, CommandContext, InlineProjector
from backend.application.commands import Advanced, AdvanceTransfers
from backend.application.errors import NotFound
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.metrics import CommandObserver, FinishedCommand, Metrics
from backend.application.ports.transfer_work import (
    ClaimedTransfer,
    EngineLeadership,
    TransferClaims,
)
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.transfer_steps import STEPS
from backend.domain.events import event_type
from backend.domain.transfer import Transfer, TransferRequested

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


def advance_transfers(command: AdvanceTransfers, ctx: CommandContext) -> list[Advanced]:
    """Up to `command.steps` phases in this one transaction: in each, every listed transfer
    still pending takes its next step, in order (a phase's holds all come before the next
    phase's credits, so the transfers of a batch spend each account in their order)."""
    # The engine itself reacts to what it appends: nothing goes round through the outbox.
    ctx.accounts.publish = ctx.transfers.publish = False
    now = ctx.clock.now()
    done: dict[str, Advanced] = {}
    pending = command.transfers
    for _ in range(command.steps):
        results = [_advance(ctx, transfer_id, cause, now) for transfer_id, cause in pending]
        for result in results:
            done[result.transfer_id] = _merged(done.get(result.transfer_id), result)
        pending = tuple((r.transfer_id, r.cause) for r in results if r.moved and r.pending)
        if not pending:
            break
    return list(done.values())


def _merged(before: Advanced | None, after: Advanced) -> Advanced:
    """What several phases of one transaction did to one transfer."""
    if before is None:
        return after
    accounts = tuple(dict.fromkeys((*before.accounts, *after.accounts)))
    moved = before.moved or after.moved
    return dataclasses.replace(after, moved=moved, accounts=accounts)


def _advance(ctx: CommandContext, transfer_id: str, cause: str | None, now: datetime) -> Advanced:
    transfer = ctx.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id}")
    step = transfer.next_step(now)
    if step is None:  # ended already (another engine's claim, or a redelivery)
        return _advanced(transfer, cause, moved=False, accounts=())
    # Every event of the saga: the transfer id as correlation id, the event before as cause.
    meta = EventMetadata(correlation_id=transfer.id, causation_id=cause)
    before = len(ctx.accounts.appended)
    STEPS[step](ctx, transfer, meta, now)
    changed = ctx.accounts.appended[before:]
    if changed:
        meta = dataclasses.replace(meta, causation_id=changed[-1].event_id)
    recorded = ctx.transfers.save(transfer, meta)
    accounts = tuple(dict.fromkeys(event.stream_id for event in changed))
    cause = recorded[-1].event_id if recorded else cause
    return _advanced(transfer, cause, moved=bool(recorded), accounts=accounts)


def _advanced(
    transfer: Transfer, cause: str | None, *, moved: bool, accounts: tuple[str, ...]
) -> Advanced:
    return Advanced(transfer.id, cause, transfer.status, transfer.failure_reason, moved, accounts)


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
            now = self.clock.now()
            if not self.claims.ready(now):
                return 0
            claimed = self.claims.claim(now, self.lease, self.batch_size)
            if claimed:
                self.run(claimed)
            return len(claimed)
        except BaseException:
            if self.leadership is not None:
                self.leadership.release()  # the database may have gone: lead afresh
            raise

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
            for result in results:
                statuses[result.transfer_id] = result.status
                accounts.update(dict.fromkeys(result.accounts))
                if result.moved:
                    transfers[result.transfer_id] = None
                    if not result.pending:
                        self._count_end(result, requested_at[result.transfer_id])
            pending = {r.transfer_id: r.cause for r in results if r.moved and r.pending}
        if self.announce is not None and (accounts or transfers):
            self.announce(list(accounts), list(transfers))
        return statuses

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
