"""Deterministic clock and ids, and an application wired to in-memory adapters."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.command_runner import CommandRunner
from backend.application.event_codec import default_codec
from backend.application.ports.metrics import CommandObserver
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.repository import DEFAULT_SNAPSHOT_EVERY


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


class SequentialIds:
    """Ids that read well in failures: `<prefix>-1`, `<prefix>-2`, …"""

    def __init__(self, prefix: str = "id") -> None:
        self._counter = itertools.count(1)
        self._prefix = prefix

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


@dataclass
class InMemoryApp:
    """The application layer over memory adapters, with a fixed clock and sequential ids."""

    db: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    clock: FixedClock = field(default_factory=FixedClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def runner(
        self,
        observers: Sequence[CommandObserver] = (),
        uow_factory: UnitOfWorkFactory | None = None,
    ) -> CommandRunner:
        return CommandRunner(
            uow_factory or self.uow,
            default_codec(),
            self.clock,
            self.ids,
            self.snapshot_every,
            sleep=lambda _: None,
            observers=observers,
        )
