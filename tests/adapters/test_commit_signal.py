"""The CommitSignal contract (in-memory and Redis), and the relay and engine loops it wakes.

A "process" is one signal instance: in distributed mode each web process notifies through
its own RedisCommitSignal and each worker listens through another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from backend.adapters.outbound.memory.commit_signal import InMemoryCommitSignal
from backend.adapters.outbound.redis.commit_signal import RedisCommitSignal
from backend.application.ports.commit_signal import CommitSignal
from backend.application.ports.metrics import COMMITTED, UNCHANGED, FinishedCommand
from backend.application.relay import signalling_commits
from backend.entrypoints import loops as loops_module
from backend.entrypoints.loops import start_messaging
from tests.application.saga_harness import Bank

#: Builds the signal of one process; all built by one factory share one bus.
SignalFactory = Callable[[], CommitSignal]
WAIT = 10.0


class Wakes:
    """A wake-up target that counts calls and lets a test wait for them."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def counting(self, tick: Callable[[], int]) -> Callable[[], int]:
        """`tick` (a loop's), counting each call once it returned."""

        def counted() -> int:
            found = tick()
            self()
            return found

        return counted

    def wait_for(self, count: int, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)


@pytest.fixture(params=["memory", "redis"])
def make_signal(request: pytest.FixtureRequest) -> Iterator[SignalFactory]:
    if request.param == "memory":
        shared = InMemoryCommitSignal()  # one process: every "process" is the same signal
        yield lambda: shared
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    built: list[RedisCommitSignal] = []

    def build() -> CommitSignal:
        built.append(RedisCommitSignal(redis.Redis.from_url(url), prefix=f"{prefix}:sig:"))
        return built[-1]

    yield build
    for signal in built:
        signal.close()


def listening(signal: CommitSignal) -> Wakes:
    """A listener, once its subscription is live (Redis wakes it once on subscribing)."""
    wakes = Wakes()
    signal.listen(wakes)
    if isinstance(signal, RedisCommitSignal):
        assert wakes.wait_for(1), "the subscription never became live"
        wakes.count = 0
    return wakes


def test_a_commit_notified_in_one_process_wakes_listeners_in_another(
    make_signal: SignalFactory,
) -> None:
    web, worker_a, worker_b = make_signal(), make_signal(), make_signal()
    wakes_a, wakes_b = listening(worker_a), listening(worker_b)
    web.notify()
    assert wakes_a.wait_for(1) and wakes_b.wait_for(1)


def test_a_burst_of_notifications_from_threads_wakes_a_listener(
    make_signal: SignalFactory,
) -> None:
    web, worker = make_signal(), make_signal()
    wakes = listening(worker)

    def commits() -> None:
        for _ in range(50):
            web.notify()

    threads = [threading.Thread(target=commits) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wakes.wait_for(1)


def test_a_listener_that_stopped_is_not_woken() -> None:
    signal = InMemoryCommitSignal()
    wakes = Wakes()
    stop = signal.listen(wakes)
    stop()
    signal.notify()
    assert wakes.count == 0


def test_only_commands_that_committed_events_notify() -> None:
    signal, wakes = InMemoryCommitSignal(), Wakes()
    signal.listen(wakes)
    observer = signalling_commits(signal)
    bank = Bank()
    bank.open(100)
    with bank.app.uow() as uow:
        events = tuple(message.event for message in uow.outbox.pending())
    observer(FinishedCommand("Deposit", UNCHANGED, 0.001))
    assert wakes.count == 0
    observer(FinishedCommand("Deposit", COMMITTED, 0.001, events))
    assert wakes.count == 1


def test_the_relay_loop_polls_when_signalled_not_only_when_idle_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With an hour between fallback polls, only the signal can make the relay run again.
    monkeypatch.setattr(loops_module, "SIGNALLED_RELAY_IDLE", 3600.0)
    bank, signal = Bank(), InMemoryCommitSignal()
    ticks = Wakes()
    bank.relay.relay_once = ticks.counting(bank.relay.relay_once)  # type: ignore[method-assign]
    loops = start_messaging(bank.relay, bank.engine, run_engine=False, signal=signal)
    try:
        assert ticks.wait_for(2)  # the backlog's poll, then the loop's first, idle after it
        bank.open(100)
        signal.notify()
        assert ticks.wait_for(3)
        assert bank.queue.batches, "the woken relay sent the new events"
    finally:
        loops.stop()


def test_a_transfer_requested_in_a_web_process_wakes_a_workers_engine(
    make_signal: SignalFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With an hour between the engine's fallback looks, only the signal can make it claim the
    # transfer: the web process's commit notifies, the worker's engine wakes and runs it.
    monkeypatch.setattr(loops_module, "ENGINE_IDLE", 3600.0)
    web, worker = make_signal(), make_signal()
    listening(worker)  # the worker's subscription is live: no wake-up on subscribing later
    bank, ticks = Bank(), Wakes()
    bank.engine.run_once = ticks.counting(bank.engine.run_once)  # type: ignore[method-assign]
    source, target = bank.open(100), bank.open()
    loops = start_messaging(bank.relay, bank.engine, run_relay=False, signal=worker)
    try:
        assert ticks.wait_for(1)  # the loop's first look found nothing: idle for an hour now
        transfer_id = bank.transfer(source, target, 30)
        web.notify()  # what the web process's command observer does after the commit
        deadline = time.monotonic() + WAIT
        while bank.transfer_state(transfer_id).status == "pending":
            assert time.monotonic() < deadline, "the engine was not woken"
            time.sleep(0.01)
    finally:
        loops.stop()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert (bank.account(source).balance, bank.account(target).balance) == (70, 30)
