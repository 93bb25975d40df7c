"""The transfer-work ports: the table of pending transfers (a member of the unit of work,
written with the transfer events), the claims the transfer engine takes on it, and the backlog
admission measures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from backend.application.ports.event_store import StoredEvent


@dataclass(frozen=True, slots=True)
class ClaimedTransfer:
    """A pending transfer an engine took: run it until it ends or the lease runs out."""

    transfer_id: str
    #: The id of the transfer's latest event: the cause of its next step.
    cause: str | None
    requested_at: datetime
    #: How many times it was claimed, this claim included (a transfer that keeps failing is
    #: claimed less and less often).
    attempts: int


class TransferWork(Protocol):
    """The pending transfers inside a unit of work: a row per transfer from its request to its
    end, committed together with the transfer events it reflects, so it survives any crash."""

    def track(self, events: Sequence[StoredEvent]) -> None:
        """Add the transfers these events request (ready at once); drop those that ended."""
        ...

    def claim(self, now: datetime, limit: int) -> list[ClaimedTransfer]:
        """Up to `limit` transfers ready at `now`, oldest first, taken for this transaction
        (other engines' transactions skip them; no lease: if this one rolls back, they are
        ready again at once)."""
        ...


#: A lease never grows past this, however often the transfer was claimed.
MAX_LEASE: Final = timedelta(minutes=10)


def lease_for(lease: timedelta, attempts: int) -> timedelta:
    """How long the claim number `attempts` keeps its transfer: `lease` doubled for each claim
    before it, capped (a transfer that keeps failing is tried less and less often)."""
    doubled: timedelta = lease * 2 ** min(attempts - 1, 16)
    return min(doubled, MAX_LEASE)


@dataclass(frozen=True, slots=True)
class StuckTransfer:
    """A transfer whose rounds keep failing: tried `attempts` times, next at `ready_at`."""

    transfer_id: str
    attempts: int
    ready_at: datetime


#: From this many failed attempts on, `hexbank jobs failed` lists a transfer (its leases have
#: grown to minutes: someone should read its log lines).
STUCK_AFTER_ATTEMPTS: Final = 3


class TransferClaims(Protocol):
    """Takes ready transfers for one engine at a time (several engines share the work)."""

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[ClaimedTransfer]:
        """Up to `limit` transfers ready at `now`, oldest first, none another engine holds;
        each is not ready again before its lease ends (`lease_for`), so if this engine dies
        its transfers go on elsewhere after that."""
        ...

    def ready(self, now: datetime) -> bool:
        """Whether any transfer is ready at `now` (a read, no claim: cheap when idle)."""
        ...

    def stuck(self, min_attempts: int, limit: int) -> list[StuckTransfer]:
        """Transfers claimed at least `min_attempts` times with leases (each after a failed
        round) and still pending, most attempts first: the engine's dead letters."""
        ...


class EngineLeadership(Protocol):
    """Which one of the deployment's engines runs transfers now: one at a time, so that rounds
    of two engines never race for the same accounts (each would undo the other's cached
    state, and retry); the others stand by and take over when the leader's process dies."""

    def lead(self) -> bool:
        """Whether this engine leads (taking the lead if it is free); kept until `release`."""
        ...

    def release(self) -> None:
        """Give the lead up (after an error: the next `lead` starts afresh)."""
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
