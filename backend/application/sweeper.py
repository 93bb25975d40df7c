"""The transfer sweeper: drives every transfer still pending after its deadline.

It is what makes "every accepted transfer ends" hold after crashes and failed jobs: it needs
nothing but the committed deadline index and the event store, so it works after any restart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from backend.application.command_runner import InlineProjector
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.transfer_deadlines import OverdueTransfers
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.transfers import TransferProcess

log = logging.getLogger(__name__)


@dataclass
class TransferSweeper:
    """Finds overdue transfers and drives each: before the credit they time out, after it
    they complete."""

    deadlines: OverdueTransfers
    process: TransferProcess
    clock: Clock
    batch_size: int = 100

    def sweep_once(self) -> int:
        """Drive up to `batch_size` overdue transfers; the number that reached an end."""
        ended = 0
        for transfer_id in self.deadlines.overdue(self.clock.now(), self.batch_size):
            try:
                status = self.process.drive(transfer_id)
            except Exception:
                # One broken transfer must not stop the others; it is retried next sweep.
                log.exception("sweeping transfer %s failed", transfer_id)
                continue
            ended += status in ("completed", "failed")
        return ended


def with_deadline_tracking(projector: InlineProjector) -> InlineProjector:
    """The CommandRunner's inline hook, extended to keep the deadline index in the same
    transaction as the transfer events (so the sweeper sees every transfer after a crash)."""

    def project(uow: UnitOfWork, appended: Sequence[StoredEvent]) -> None:
        projector(uow, appended)
        uow.transfer_deadlines.track(appended)

    return project
