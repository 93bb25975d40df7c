"""The hash-chain check: follows every stream's chain through the log in global order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from backend.application.event_hash import GENESIS, stored_event_hash
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.unit_of_work import UnitOfWorkFactory

PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first event whose place or hash does not follow from its stream's chain."""

    stream_id: str
    version: int
    reason: str


@dataclass
class ChainCheck:
    """Each stream's head (version, hash) so far; streams are checked as their events come.

    Within a stream, versions grow with position (an append expects the stream's head), so
    reading the log in position order meets every stream in version order."""

    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    events: int = 0

    def feed(self, events: Iterable[StoredEvent]) -> ChainBreak | None:
        """Follow `events`; the first that breaks its stream's chain, if any."""
        for event in events:
            version, previous = self.heads.get(event.stream_id, (0, GENESIS))
            if event.version != version + 1:
                return ChainBreak(event.stream_id, event.version, _misplaced(version))
            if event.hash != stored_event_hash(previous, event):
                return ChainBreak(event.stream_id, event.version, "its hash does not match")
            self.heads[event.stream_id] = (event.version, event.hash)
            self.events += 1
        return None

    def digest(self) -> str:
        """One SHA-256 over every stream's head: noted down, it shows later whether anything
        already checked was rewritten, chain and all."""
        lines = sorted(
            f"{stream} {version} {head}" for stream, (version, head) in self.heads.items()
        )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _misplaced(head: int) -> str:
    if head == 0:
        return "the stream's earlier events are missing"
    return f"it does not follow version {head} (an event is missing or repeated)"


def check_chains(
    uow_factory: UnitOfWorkFactory, page_size: int = PAGE_SIZE
) -> tuple[ChainCheck, ChainBreak | None]:
    """Walk the whole log, a page per (read-only) unit of work; the streams' heads and the
    first break (None: every chain holds)."""
    check, position = ChainCheck(), 0
    while page := read_page(uow_factory, position, page_size):
        if (broken := check.feed(page)) is not None:
            return check, broken
        position = page[-1].position
    return check, None


def read_page(uow_factory: UnitOfWorkFactory, after: int, limit: int) -> list[StoredEvent]:
    """Events after position `after`, in a unit of work of their own (no long transaction)."""
    with uow_factory() as uow:
        return uow.events.read_all(after, limit)
