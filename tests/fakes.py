"""Deterministic clock and ids, and an application wired to in-memory adapters."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.bounded import RecentValues
from backend.application.command_bus import (
    CommandBus,
    CommandContext,
    Handler,
    InlineProjector,
    Tools,
)
from backend.application.command_outcomes import RetryPolicy
from backend.application.commands import Command
from backend.application.event_codec import default_codec
from backend.application.handlers import KEYED_RESULTS, command_handlers
from backend.application.idempotency import KeyRecords
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.metrics import CommandObserver
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.projections import default_projections
from backend.application.projections.inline import inline_projector
from backend.application.repository import DEFAULT_SNAPSHOT_EVERY, Cached
from backend.application.transfer_engine import with_work_tracking
from backend.application.transfers import DEFAULT_TRANSFER_TIMEOUT
from backend.domain.account import Account

T = TypeVar("T")


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

    def bus(
        self,
        observers: Sequence[CommandObserver] = (),
        uow_factory: UnitOfWorkFactory | None = None,
    ) -> CommandBus:
        return bus_for_tests(
            uow_factory or self.uow,
            self.clock,
            self.ids,
            snapshot_every=self.snapshot_every,
            observers=observers,
        )

    def runner(
        self,
        observers: Sequence[CommandObserver] = (),
        uow_factory: UnitOfWorkFactory | None = None,
    ) -> BusRunner:
        return BusRunner(self.bus(observers, uow_factory))


@dataclass(frozen=True, slots=True)
class InTransaction(Command[Any]):
    """Tests' own command: run `work` on a command context, in one transaction of the bus
    (reading aggregates, calling several handlers at once, injecting a fault)."""

    work: Callable[[CommandContext], Any]


def in_transaction(command: InTransaction, ctx: CommandContext) -> Any:
    return command.work(ctx)


def handlers_for_tests(
    transfer_timeout: timedelta = DEFAULT_TRANSFER_TIMEOUT,
) -> Mapping[type[Command[Any]], Handler]:
    """The application's registry, plus the tests' InTransaction."""
    return {**command_handlers(transfer_timeout), InTransaction: in_transaction}


def app_projector() -> InlineProjector:
    """The read side as the app projects it in each command's transaction (queries and the
    transfer request read the rows it writes)."""
    return inline_projector(default_projections(default_codec()))


def bus_for_tests(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    *,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    inline_projector: InlineProjector | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = lambda _: None,
    cached_accounts: RecentValues[str, Cached[Account]] | None = None,
    observers: Sequence[CommandObserver] = (),
) -> CommandBus:
    """A bus over `uow_factory` with the tests' registry, no waiting between retries; like the
    container's, it keeps the transfer-work table in each command's transaction."""
    return CommandBus(
        uow_factory,
        handlers_for_tests(),
        Tools(default_codec(), clock, ids, snapshot_every, cached_accounts),
        KeyRecords(clock, KEYED_RESULTS),
        with_work_tracking(inline_projector or app_projector()),
        observers,
        retry=retry or RetryPolicy(),
        sleep=sleep,
    )


class BusRunner:
    """Runs ad-hoc work (a function of the command context) as one command on a bus."""

    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus

    @property
    def snapshot_every(self) -> int:
        return self.bus.tools.snapshot_every

    @snapshot_every.setter
    def snapshot_every(self, every: int) -> None:
        self.bus.tools = dataclasses.replace(self.bus.tools, snapshot_every=every)

    def run(self, work: Callable[[CommandContext], T], metadata: EventMetadata) -> T:
        result: T = self.bus.execute(InTransaction(work), metadata)
        return result
