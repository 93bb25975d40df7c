"""The transfer-deadline ports: the index written with the transfer events (a member of the
unit of work) and the overdue query the sweeper drives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from backend.application.ports.event_store import StoredEvent


class TransferDeadlines(Protocol):
    """The deadline index inside a unit of work: it commits together with the transfer events
    it reflects, so it survives any crash of the process."""

    def track(self, events: Sequence[StoredEvent]) -> None:
        """Record new transfers' deadlines and forget those that ended."""
        ...


class OverdueTransfers(Protocol):
    """Which transfers are still pending after their deadline (what the sweeper drives)."""

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of pending transfers whose deadline is before `now`, oldest deadline first."""
        ...
