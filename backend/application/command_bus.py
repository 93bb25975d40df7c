"""The command bus: the one door every command goes through (HTTP views, the saga, the demo).

It looks up the command's handler in one explicit registry and runs it in a fresh unit of work
(one transaction), together with the inline read-model projection and, when the caller sent an
Idempotency-Key, the key's record. Optimistic-concurrency conflicts are retried; a stream that
conflicted once is queued for in the attempts that follow, so a hot account's writers take
turns instead of retrying blindly. Accounts may come from a per-process cache; an attempt
whose cached account went unchecked (read but not saved, or refused) runs again from the
store. Each command is reported to the observers (metrics, logs) under its type's name.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from backend.application.bounded import RecentValues
from backend.application.command_outcomes import Outcome, RetryPolicy, failure_outcome
from backend.application.commands import Command
from backend.application.errors import ApplicationError, ConcurrencyError, ConcurrentModification
from backend.application.event_codec import EventCodec
from backend.application.idempotency import IdempotencyKey, KeyRecords
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.metrics import (
    COMMITTED,
    UNCHANGED,
    CommandObserver,
    FinishedCommand,
)
from backend.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from backend.application.repository import DEFAULT_SNAPSHOT_EVERY, Cached, Repository, Staging
from backend.domain.account import Account
from backend.domain.aggregate import Aggregate
from backend.domain.errors import DomainError
from backend.domain.transfer import Transfer

R = TypeVar("R")
#: How many accounts a process keeps as its commands left them (a few KiB each).
CACHED_ACCOUNTS = 10_000
A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)

#: Writes read-model changes for just-appended events inside the command's own transaction.
InlineProjector = Callable[[UnitOfWork, Sequence[StoredEvent]], None]
#: A command's handler: does the work on the context's repositories, returns the result.
Handler = Callable[[Any, "CommandContext"], Any]


def no_projection(uow: UnitOfWork, events: Sequence[StoredEvent]) -> None:
    """Default when no read side is plugged in."""


@dataclass
class CommandContext:
    """What a handler works with: the transaction, its repositories, the events' metadata."""

    uow: UnitOfWork
    accounts: Repository[Account]
    transfers: Repository[Transfer]
    metadata: EventMetadata
    clock: Clock
    ids: IdGenerator
    #: Shared by both repositories (see `defer_writes`).
    staging: Staging = field(default_factory=Staging)

    @property
    def appended(self) -> list[StoredEvent]:
        """What this transaction appended, in the order of the stream positions."""
        events = [*self.accounts.appended, *self.transfers.appended]
        return sorted(events, key=lambda event: event.position)

    def defer_writes(self) -> None:
        """From now on saves are only staged, and written together when the handler returns
        (one statement for all of them, in the order they were made)."""
        self.staging.active = True

    def flush(self) -> None:
        """Write what deferred saves staged."""
        self.staging.flush(self.uow)


@dataclass(frozen=True, slots=True)
class Tools:
    """What every repository of a command needs besides its unit of work."""

    codec: EventCodec
    clock: Clock
    ids: IdGenerator
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    #: The accounts this process's commands left last, reused by the next command of each.
    accounts: RecentValues[str, Cached[Account]] | None = None


@dataclass
class CommandBus:
    """Runs each command in one transaction through its registered handler."""

    uow_factory: UnitOfWorkFactory
    handlers: Mapping[type[Command[Any]], Handler]
    tools: Tools
    keys: KeyRecords
    inline_projector: InlineProjector = no_projection
    #: Told each command's type, outcome and duration (metrics, logs).
    observers: Sequence[CommandObserver] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def execute(self, command: Command[R], metadata: EventMetadata) -> R:
        """Run `command` until it commits; raise its refusal, or ConcurrentModification."""
        return self.execute_once(command, metadata, None).result

    def execute_once(
        self,
        command: Command[R],
        metadata: EventMetadata,
        key: IdempotencyKey | None,
        *,
        admit: Callable[[], None] | None = None,
    ) -> Outcome[R]:
        """Like `execute`; with a key, the first request's result is replayed to its twins
        (IdempotencyKeyReused for another request, IdempotencyKeyInUse while it runs).
        `admit` runs before a command that is not such a replay and may refuse it (raise):
        admission control asks only about new work. It runs inside the transaction, so it
        must not open one of its own (on SQLite that would wait for the lock it holds)."""
        handler = self.handlers[type(command)]
        attempt = _Attempt(self, handler, command, metadata, key, admit)
        started = time.perf_counter()
        try:
            outcome: Outcome[R] = self._with_retries(attempt)
        except Exception as error:
            self._report(type(command).__name__, failure_outcome(error), started, ())
            raise
        events = () if outcome.replayed else tuple(attempt.appended)
        outcome_name = COMMITTED if events else UNCHANGED
        self._report(type(command).__name__, outcome_name, started, events, attempt.published)
        return outcome

    def _with_retries(self, attempt: _Attempt) -> Outcome[Any]:
        hot: set[str] = set()
        for number in range(1, self.retry.max_attempts + 1):
            try:
                return attempt.run(frozenset(hot))
            except _CacheUnchecked:
                attempt.use_cache = False  # run again from the store, at once
            except ConcurrencyError as error:
                if error.stream_id is not None:
                    hot.add(error.stream_id)  # from now on, queue for it instead of racing
                if number < self.retry.max_attempts:
                    self._back_off(number)
        raise ConcurrentModification(f"gave up after {self.retry.max_attempts} attempts")

    def _back_off(self, number: int) -> None:
        # Full jitter keeps retrying writers of one stream from colliding in step.
        delay = min(self.retry.base_delay * 2 ** (number - 1), self.retry.max_delay)
        self.sleep(random.uniform(0, delay))  # noqa: S311

    def _report(
        self,
        name: str,
        outcome: str,
        started: float,
        events: tuple[StoredEvent, ...],
        published: bool = True,
    ) -> None:
        seconds = time.perf_counter() - started
        finished = FinishedCommand(name, outcome, seconds, events, published)
        for observer in self.observers:
            try:
                observer(finished)
            except Exception:  # an observer's failure must never fail a committed command
                log.warning("command observer failed", exc_info=True)


class _CacheUnchecked(Exception):
    """An attempt relied on cached aggregates it could not check: run it from the store."""


class _Attempt:
    """One command's attempts: each a fresh unit of work holding key, effect and projection."""

    def __init__(
        self,
        bus: CommandBus,
        handler: Handler,
        command: Command[Any],
        metadata: EventMetadata,
        key: IdempotencyKey | None,
        admit: Callable[[], None] | None = None,
    ) -> None:
        self._bus, self._handler, self._command = bus, handler, command
        self._metadata, self._key, self._admit = metadata, key, admit
        self.appended: list[StoredEvent] = []
        #: Whether the committed events went to the outbox.
        self.published = True
        #: Cleared once an attempt could not check what it took from the cache.
        self.use_cache = True

    def run(self, hot: frozenset[str]) -> Outcome[Any]:
        bus = self._bus
        with bus.uow_factory() as uow:
            if self._key is not None and (first := bus.keys.first_result(uow, self._key)):
                if first.refusal is not None:
                    raise first.refusal  # the first request's refusal, again
                return Outcome(first.result, replayed=True)  # nothing written: rolled back
            if self._admit is not None:
                self._admit()
                self._admit = None  # asked once: a retry of an admitted command is not new work
            context = self._context(uow, hot)
            try:
                result = self._checked(context)
            except (DomainError, ApplicationError) as refusal:
                self._remember_refusal(uow, context, refusal)
                raise
            context.flush()
            bus.inline_projector(uow, context.appended)
            if self._key is not None:
                bus.keys.remember(uow, self._key, result)
            uow.commit()
        self.appended = context.appended
        self.published = context.accounts.publish and context.transfers.publish
        context.accounts.keep_in_cache()
        return Outcome(result)

    def _remember_refusal(
        self, uow: UnitOfWork, context: CommandContext, refusal: Exception
    ) -> None:
        """Commit the key's record of a refusal, so its twins get the same answer. Only a
        refusal that came before anything was appended: the record is all that commits."""
        keys = self._bus.keys
        if self._key is None or context.appended or not keys.records_refusal(refusal):
            return
        keys.remember_refusal(uow, self._key, refusal)
        uow.commit()

    def _checked(self, context: CommandContext) -> Any:
        """The handler's result; _CacheUnchecked when it read a cached account it did not
        save, or was refused after reading one (either may come from a stale state)."""
        accounts = context.accounts
        try:
            result = self._handler(self._command, context)
        except ConcurrencyError:
            raise
        except (DomainError, ApplicationError) as refusal:
            if accounts.used_cache:
                raise _CacheUnchecked from refusal
            raise
        if accounts.unverified:
            raise _CacheUnchecked
        return result

    def _context(self, uow: UnitOfWork, hot: frozenset[str]) -> CommandContext:
        tools, staging = self._bus.tools, Staging()
        cache = tools.accounts if self.use_cache else None
        accounts = self._repository(Account, uow, hot, cache, staging)
        transfers = self._repository(Transfer, uow, hot, None, staging)
        return CommandContext(
            uow, accounts, transfers, self._metadata, tools.clock, tools.ids, staging
        )

    def _repository(
        self,
        cls: type[A],
        uow: UnitOfWork,
        hot: frozenset[str],
        cache: RecentValues[str, Cached[A]] | None,
        staging: Staging,
    ) -> Repository[A]:
        tools = self._bus.tools
        return Repository(
            cls, uow, tools.codec, tools.clock, tools.ids, tools.snapshot_every, hot, cache,
            staging=staging,
        )  # fmt: skip
