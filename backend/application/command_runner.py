"""Runs a command in a fresh unit of work, retrying optimistic-concurrency conflicts."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from backend.application.command_names import current_command_type
from backend.application.errors import ApplicationError, ConcurrencyError, ConcurrentModification
from backend.application.event_codec import EventCodec
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.metrics import (
    COMMITTED,
    CONFLICT,
    ERROR,
    REJECTED,
    UNCHANGED,
    CommandObserver,
    FinishedCommand,
)
from backend.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from backend.application.repository import DEFAULT_SNAPSHOT_EVERY, Repository
from backend.domain.account import Account
from backend.domain.aggregate import Aggregate
from backend.domain.errors import DomainError
from backend.domain.transfer import Transfer

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)

#: Writes read-model changes for just-appended events inside the command's own transaction.
InlineProjector = Callable[[UnitOfWork, Sequence[StoredEvent]], None]


def _no_projection(uow: UnitOfWork, events: Sequence[StoredEvent]) -> None:
    """Default when no read side is plugged in."""


def failure_outcome(error: BaseException) -> str:
    """The outcome of a command that raised `error`."""
    if isinstance(error, ConcurrentModification):
        return CONFLICT
    if isinstance(error, DomainError | ApplicationError):
        return REJECTED
    return ERROR


@dataclass
class CommandContext:
    """What a command handler works with: the transaction, its repositories, its metadata."""

    uow: UnitOfWork
    accounts: Repository[Account]
    transfers: Repository[Transfer]
    metadata: EventMetadata
    clock: Clock
    ids: IdGenerator

    @property
    def appended(self) -> list[StoredEvent]:
        return [*self.accounts.appended, *self.transfers.appended]


@dataclass
class CommandRunner:
    """Executes handlers one transaction each; conflicts are retried with jittered backoff."""

    uow_factory: UnitOfWorkFactory
    codec: EventCodec
    clock: Clock
    ids: IdGenerator
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    inline_projector: InlineProjector = _no_projection
    #: Enough for a hot account: sixteen concurrent writers of one stream all get through.
    max_attempts: int = 16
    base_delay: float = 0.002
    #: Backoff stops doubling here, so the whole budget stays well under a second.
    max_delay: float = 0.05
    sleep: Callable[[float], None] = field(default=time.sleep)
    #: Told each command's type, outcome and duration (metrics, logs, the relay's wakeup).
    observers: Sequence[CommandObserver] = ()

    def run(self, handler: Callable[[CommandContext], T], metadata: EventMetadata) -> T:
        """Run `handler` until it commits, or raise ConcurrentModification."""
        started, contexts = time.perf_counter(), list[CommandContext]()

        def tracked(ctx: CommandContext) -> T:
            contexts.append(ctx)  # the last one is the attempt that committed
            return handler(ctx)

        try:
            result = self._run_with_retries(tracked, metadata)
        except Exception as error:
            self._report(failure_outcome(error), started, ())
            raise
        events = tuple(contexts[-1].appended) if contexts else ()
        self._report(COMMITTED if events else UNCHANGED, started, events)
        return result

    def _report(self, outcome: str, started: float, events: tuple[StoredEvent, ...]) -> None:
        finished = FinishedCommand(
            current_command_type(), outcome, time.perf_counter() - started, events
        )
        for observe in self.observers:
            try:
                observe(finished)
            except Exception:  # an observer's failure must never fail the command after its commit
                log.warning("command observer failed", exc_info=True)

    def _run_with_retries(
        self, handler: Callable[[CommandContext], T], metadata: EventMetadata
    ) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(handler, metadata)
            except ConcurrencyError:
                if attempt == self.max_attempts:
                    break
                # Full jitter keeps retrying writers of one hot stream from colliding in step.
                delay = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
                self.sleep(random.uniform(0, delay))  # noqa: S311
        raise ConcurrentModification(f"gave up after {self.max_attempts} conflicting attempts")

    def _attempt(self, handler: Callable[[CommandContext], T], metadata: EventMetadata) -> T:
        with self.uow_factory() as uow:
            context = self._context(uow, metadata)
            result = handler(context)
            self.inline_projector(uow, context.appended)
            uow.commit()
            return result

    def _context(self, uow: UnitOfWork, metadata: EventMetadata) -> CommandContext:
        accounts, transfers = self._repository(Account, uow), self._repository(Transfer, uow)
        return CommandContext(uow, accounts, transfers, metadata, self.clock, self.ids)

    def _repository(self, cls: type[A], uow: UnitOfWork) -> Repository[A]:
        return Repository(cls, uow, self.codec, self.clock, self.ids, self.snapshot_every)
