"""A fault injector for live stacks: kill -9 and restart processes, restart Redis and
PostgreSQL, at seeded random moments, while the workload runs."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.live_stack import Process, wait_for
from tests.reliability.services import PostgresServer, RedisServer

Fault = Callable[[random.Random], str]
BACK_WITHIN_SECONDS = 10


def kill_and_restart(processes: list[Process]) -> Fault:
    """kill -9 one of the processes (with its children), then start it again."""

    def fault(rng: random.Random) -> str:
        process = rng.choice(processes)
        process.kill_tree()
        process.start()
        return f"kill -9 {process.name}"

    return fault


def restart_redis(server: RedisServer, back: Callable[[], bool], down_for: float = 1.0) -> Fault:
    """Redis down for `down_for` seconds, losing everything; `back` must hold ≤ 10 s later."""

    def fault(rng: random.Random) -> str:
        server.restart(down_for=down_for)
        return f"restart redis ({down_for} s down, data lost): {back_within(back)}"

    return fault


def restart_postgres(
    server: PostgresServer, back: Callable[[], bool], down_for: float = 1.0
) -> Fault:
    """PostgreSQL down (killed or shut down fast); `back` must hold ≤ 10 s after it returns."""

    def fault(rng: random.Random) -> str:
        crash = rng.random() < 0.5
        server.restart(down_for=down_for, crash=crash)
        how = "kill -9" if crash else "fast shutdown"
        return f"restart postgres ({how}, {down_for} s down): {back_within(back)}"

    return fault


def back_within(ready: Callable[[], bool]) -> str:
    """R5: the service answers again within BACK_WITHIN_SECONDS of its dependency."""
    started = time.monotonic()
    wait_for(ready, BACK_WITHIN_SECONDS, "the service to be back after its dependency")
    return f"back after {time.monotonic() - started:.1f} s"


@dataclass(eq=False)  # threads must stay hashable
class FaultInjector(threading.Thread):
    """Applies `faults` (in order first, so each happens at least once, then at random)
    every `interval` seconds until `stop` is set."""

    faults: list[Fault]
    stop_event: threading.Event
    seed: int
    interval: tuple[float, float] = (1.5, 3.0)
    applied: list[tuple[float, str]] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        super().__init__(name="fault-injector", daemon=True)
        self.rng = random.Random(self.seed)  # noqa: S311 (a seeded schedule)

    def run(self) -> None:
        started = time.monotonic()
        try:
            for count in range(1_000_000):
                # Waiting IS the schedule here: faults land at random moments of the workload.
                if self.stop_event.wait(self.rng.uniform(*self.interval)):
                    return
                fault = self.faults[count] if count < len(self.faults) else None
                fault = fault or self.rng.choice(self.faults)
                self.applied.append((round(time.monotonic() - started, 1), fault(self.rng)))
        except BaseException as error:  # re-raised by the test in its own thread
            self.error = error

    def finish(self) -> list[tuple[float, str]]:
        self.join(120)
        assert not self.is_alive(), "the fault injector hung"
        if self.error is not None:
            raise self.error
        return self.applied
