"""Concurrency: optimistic writers never overdraw an account; tailing readers skip no event."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from backend.adapters.outbound.sqlalchemy import event_store
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application.accounts import deposit, open_account, withdraw
from backend.application.audit.chains import check_chains
from backend.application.command_runner import CommandRunner
from backend.application.commands import Deposit, OpenAccount, Withdraw
from backend.application.errors import ConcurrentModification
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, NewEvent, StoredEvent
from backend.application.repository import Repository
from backend.domain.account import Account
from backend.domain.errors import InsufficientFunds
from tests.adapters.conftest import StoreBackend
from tests.live_stack import wait_for

THREADS = 50
AMOUNT = 100
AFFORDABLE = 30  # the account holds 30 withdrawals' worth: 20 of the 50 threads must be refused
META = EventMetadata(correlation_id="concurrency")


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Start `count` threads together; re-raise the first unexpected error."""
    barrier, errors = threading.Barrier(count), []

    def body(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a worker thread hung"
    if errors:
        raise errors[0]


def test_concurrent_withdrawals_never_overdraw_and_each_success_is_one_event(
    store_backend: StoreBackend,
) -> None:
    runner = CommandRunner(
        store_backend.uow, default_codec(), SystemClock(), UuidGenerator(), snapshot_every=10
    )
    account = runner.run(lambda ctx: open_account(OpenAccount("me", "Hot", "EUR"), ctx), META)
    funding = Deposit("me", account.id, AMOUNT * AFFORDABLE)
    runner.run(lambda ctx: deposit(funding, ctx), META)
    outcomes: Counter[str] = Counter()
    tally = threading.Lock()

    def withdraw_once(_: int) -> None:
        command = Withdraw("me", account.id, AMOUNT)
        try:
            runner.run(lambda ctx: withdraw(command, ctx), META)
            outcome = "ok"
        except InsufficientFunds:
            outcome = "refused"
        except ConcurrentModification:  # retries ran out: allowed, but never a second event
            outcome = "gave_up"
        with tally:
            outcomes[outcome] += 1

    run_threads(THREADS, withdraw_once)
    with store_backend.uow() as uow:
        stream = uow.events.read_stream(account.id)
    withdrawals = [e for e in stream if e.type == "MoneyWithdrawn"]
    assert sum(outcomes.values()) == THREADS
    assert len(withdrawals) == outcomes["ok"] <= AFFORDABLE
    if outcomes["refused"]:  # refused only once the money really ran out
        assert outcomes["ok"] == AFFORDABLE
    assert [e.version for e in stream] == list(range(1, len(stream) + 1))
    assert check_chains(store_backend.uow)[1] is None  # racing appenders, snapshots: one chain
    with store_backend.uow() as uow:
        loaded = Repository(Account, uow, default_codec(), SystemClock(), UuidGenerator()).get(
            account.id
        )
    assert loaded is not None
    assert loaded.balance == AMOUNT * (AFFORDABLE - outcomes["ok"]) >= 0


WRITERS = 8
EVENTS_PER_WRITER = 30


@pytest.mark.postgres
def test_a_tailing_reader_never_skips_an_event_committed_late(postgres_engine: Engine) -> None:
    """Writers hold their transaction open for a random while after appending (so a lower
    position may commit after a higher one would have); the reader must still see all."""
    done = threading.Event()
    seen: list[StoredEvent] = []

    def write(writer: int) -> None:
        for n in range(EVENTS_PER_WRITER):
            event = NewEvent(f"w{writer}-{n}", "Tick", 1, {"n": n}, META, SystemClock().now())
            with SqlAlchemyUnitOfWork(postgres_engine) as uow:
                uow.events.append(f"stream-{writer}", "tick", n, [event])
                # Widen the commit-order race on purpose.
                time.sleep(random.uniform(0, 0.003))  # noqa: S311
                uow.commit()

    def tail() -> None:
        position, idle_after_done = 0, False
        while not idle_after_done:  # an empty read begun after the writers finished ends it
            finished = done.is_set()
            with SqlAlchemyUnitOfWork(postgres_engine) as uow:
                batch = uow.events.read_all(position, limit=25)
            seen.extend(batch)
            position = batch[-1].position if batch else position
            idle_after_done = finished and not batch
            if not batch:
                time.sleep(0.001)  # poll cadence: don't spin a core against the writers

    reader = threading.Thread(target=tail)
    reader.start()
    try:
        run_threads(WRITERS, write)
    finally:
        done.set()
        reader.join(timeout=60)
    with SqlAlchemyUnitOfWork(postgres_engine) as uow:
        committed = uow.events.read_all(0, limit=10_000)
    assert len(committed) == WRITERS * EVENTS_PER_WRITER
    assert [e.event_id for e in seen] == [e.event_id for e in committed]
    positions = [e.position for e in seen]
    assert positions == list(range(positions[0], positions[0] + len(positions)))


def _tick(name: str) -> NewEvent:
    return NewEvent(name, "Tick", 1, {}, META, SystemClock().now())


@pytest.mark.postgres
@pytest.mark.parametrize("first_appender_commits", [True, False])
def test_appenders_overlap_and_a_reader_waits_for_the_one_in_flight(
    postgres_engine: Engine, first_appender_commits: bool
) -> None:
    """PostgreSQL appenders don't exclude each other: a later one commits while an earlier one
    (lower position) is still open. A tailing reader must then neither return the later event
    alone (it would skip the earlier one for good) nor block forever: it waits for the earlier
    appender and returns what it committed, in position order."""
    read: list[list[StoredEvent]] = []
    with SqlAlchemyUnitOfWork(postgres_engine) as first:
        early = first.events.append("early", "tick", 0, [_tick("early-1")])
        with SqlAlchemyUnitOfWork(postgres_engine) as second:
            # An error rather than a hang if appenders ever exclude each other again.
            second.connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            late = second.events.append("late", "tick", 0, [_tick("late-1")])
            second.commit()
        assert late[0].position > early[0].position

        def tail() -> None:
            with SqlAlchemyUnitOfWork(postgres_engine) as uow:
                read.append(uow.events.read_all(0))

        reader = threading.Thread(target=tail)
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive(), "the reader went ahead while an appender below it was open"
        if first_appender_commits:
            first.commit()
    reader.join(timeout=30)
    assert not reader.is_alive()
    expected = ["early-1", "late-1"] if first_appender_commits else ["late-1"]
    assert [e.event_id for e in read[0]] == expected


@pytest.mark.postgres
def test_a_reader_gives_up_behind_an_appender_that_never_ends(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appenders queue behind a reader waiting at the barrier, so the reader's wait is bounded:
    it fails (a follower retries later) and the appender queued behind it goes on."""
    monkeypatch.setattr(event_store, "BARRIER_TIMEOUT_MS", 2000)
    outcomes: dict[str, object] = {}

    def read() -> None:
        with SqlAlchemyUnitOfWork(postgres_engine) as uow:
            try:
                uow.events.read_all(0)
            except OperationalError as error:
                outcomes["reader"] = error

    def write() -> None:
        with SqlAlchemyUnitOfWork(postgres_engine) as uow:
            uow.connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            uow.events.append("next", "tick", 0, [_tick("next-1")])
            uow.commit()
            outcomes["writer"] = "committed"

    with SqlAlchemyUnitOfWork(postgres_engine) as stuck:
        stuck.events.append("stuck", "tick", 0, [_tick("stuck-1")])
        reader = threading.Thread(target=read)
        reader.start()
        wait_for(lambda: _waiting_for_advisory_locks(postgres_engine) == 1, 10, "the reader")
        writer = threading.Thread(target=write)
        writer.start()
        wait_for(lambda: _waiting_for_advisory_locks(postgres_engine) == 2, 10, "the writer")
        reader.join(timeout=30)
        writer.join(timeout=30)
        assert isinstance(outcomes.get("reader"), OperationalError)
        assert outcomes.get("writer") == "committed"  # the stuck appender is still open
    with SqlAlchemyUnitOfWork(postgres_engine) as uow:
        assert [e.event_id for e in uow.events.read_all(0)] == ["next-1"]
        # The barrier puts the transaction's lock_timeout back as it found it (none).
        assert uow.connection.exec_driver_sql("SHOW lock_timeout").scalar() == "0"


def _waiting_for_advisory_locks(engine: Engine) -> int:
    """How many sessions wait for an advisory lock (granted ones don't count)."""
    with engine.connect() as connection:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return int(connection.exec_driver_sql(query).scalar_one())
