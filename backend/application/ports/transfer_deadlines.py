"""The transfer-deadline ports: the index written with the transfer events (a member of the
unit of work), the overdue query the sweeper drives, and the backlog admission measures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class BacklogSample:
    """Transfers pending now, and how many ended since the previous sample's cursor."""

    pending: int
    ended: int
    #: Pass as `after` to the next sample.
    cursor: int


class TransferBacklog(Protocol):
    """Measures the transfer backlog of the whole deployment in one cheap read (what the
    admission of new transfers decides by)."""

    def sample(self, after: int | None) -> BacklogSample:
        """Pending transfers, and those ended after cursor `after` (none counted when None)."""
        ...
