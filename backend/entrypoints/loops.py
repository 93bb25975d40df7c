"""Background loops: the transfer engine, the outbox relay and the projection follower.

Embedded mode runs them in the web process (`hexbank serve`), distributed mode in each
`hexbank worker`; several at once are safe (PostgreSQL splits the transfers and the outbox
with SKIP LOCKED, and a duplicate delivery or step changes nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.application.ports.commit_signal import CommitSignal, StopWaking
from backend.application.projections.runner import ProjectionRunner
from backend.application.relay import OutboxRelay, Wakeup
from backend.application.transfer_engine import TransferEngine
from backend.logging_setup import get_logger

log = get_logger(__name__)

RELAY_LOOP, ENGINE_LOOP, PROJECTION_LOOP = "hexbank-relay", "hexbank-engine", "hexbank-projections"
#: Seconds between relay polls when idle (a delivered batch wakes the relay sooner).
RELAY_IDLE = 0.05
#: ... when commits in other processes signal the relay too: the poll is only the fallback.
SIGNALLED_RELAY_IDLE = 0.5
#: Seconds between the engine's looks for ready transfers when nothing woke it: a fallback
#: (requests wake it), and what picks up a dead engine's transfers once their lease ends.
ENGINE_IDLE = 0.2
#: Seconds between projection lag checks.
PROJECTION_IDLE = 0.5
MAX_ERROR_BACKOFF_SECONDS = 30.0


@dataclass
class PollingLoop:
    """Calls `tick` in a daemon thread: again at once while it finds work, after `idle`
    seconds when it finds none, with exponential backoff while it raises (e.g. the database
    is down)."""

    name: str
    tick: Callable[[], int]
    idle: float
    #: What ends an idle wait early (the relay's is shared with whatever commits events).
    wakeup: Wakeup = field(default_factory=Wakeup)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wakeup.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self.idle
        while not self.stop_event.is_set():
            try:
                wait = 0.0 if self.tick() else self.idle
                backoff = self.idle
            except Exception:
                log.exception("loop failed; backing off", loop=self.name, seconds=backoff)
                wait, backoff = backoff, min(max(backoff, 0.1) * 2, MAX_ERROR_BACKOFF_SECONDS)
            if wait:
                self.wakeup.wait(wait)


@dataclass
class MessagingLoops:
    """The engine, relay and follower loops of one process, started and stopped together."""

    relay: OutboxRelay
    engine: TransferEngine
    projections: ProjectionRunner | None = None
    #: Woken by this process's commands (the container's `relay_wakeup`). Only the relay: inline
    #: projection already applied those events, and waking the follower per command cost a lag
    #: query per projection; it catches up in large pages every PROJECTION_IDLE instead.
    relay_wakeup: Wakeup = field(default_factory=Wakeup)
    #: Woken when transfers were requested (the container's `engine_wakeup`).
    engine_wakeup: Wakeup = field(default_factory=Wakeup)
    relay_idle: float = RELAY_IDLE
    loops: dict[str, PollingLoop] = field(default_factory=dict)
    stop_waking: list[StopWaking] = field(default_factory=list)

    def start(self, relay: bool = True, engine: bool = True) -> None:
        if engine:
            tick, wakeup = self.engine.run_once, self.engine_wakeup
            self.loops[ENGINE_LOOP] = PollingLoop(ENGINE_LOOP, tick, ENGINE_IDLE, wakeup)
        if relay:
            tick, wakeup = self.relay.relay_once, self.relay_wakeup
            self.loops[RELAY_LOOP] = PollingLoop(RELAY_LOOP, tick, self.relay_idle, wakeup)
        if self.projections is not None:
            # The follower catches up what inline projection could not see (e.g. a rebuild's
            # tail); it is idempotent, so running beside the inline path is safe. One is
            # enough: where an engine runs, only the leading engine's process follows.
            tick = self._follow if engine else self.projections.tick_backlog
            self.loops[PROJECTION_LOOP] = PollingLoop(PROJECTION_LOOP, tick, PROJECTION_IDLE)
        for loop in self.loops.values():
            loop.start()

    def _follow(self) -> int:
        projections = self.projections
        return projections.tick_backlog() if projections and self.engine.leads() else 0

    def stop(self) -> None:
        for stop_waking in self.stop_waking:
            stop_waking()
        for loop in self.loops.values():
            loop.stop_event.set()
        for loop in self.loops.values():
            loop.stop()


def start_messaging(
    relay: OutboxRelay,
    engine: TransferEngine,
    relay_wakeup: Wakeup | None = None,
    engine_wakeup: Wakeup | None = None,
    run_relay: bool = True,
    run_engine: bool = True,
    projections: ProjectionRunner | None = None,
    signal: CommitSignal | None = None,
) -> MessagingLoops:
    """What `hexbank serve` (embedded mode) and `hexbank worker` start in their process.

    First the outbox backlog: rows a killed process enqueued but never marked (or never
    enqueued) are sent again before anything new. Then the loops; the engine also takes the
    transfers a previous process left half-way, once their lease ends. With the commit
    `signal`, commands committed in web processes wake the relay and the engine at once (the
    relay then polls only as a fallback, every SIGNALLED_RELAY_IDLE).
    """
    if run_relay:
        _relay_backlog(relay)
    relay_wakeup = relay_wakeup or Wakeup()
    engine_wakeup = engine_wakeup or Wakeup()
    idle = SIGNALLED_RELAY_IDLE if signal is not None and run_relay else RELAY_IDLE
    loops = MessagingLoops(relay, engine, projections, relay_wakeup, engine_wakeup, idle)
    loops.start(run_relay, run_engine)
    if signal is not None:
        loops.stop_waking.append(signal.listen(_both(relay_wakeup, engine_wakeup)))
    return loops


def _both(first: Wakeup, second: Wakeup) -> Callable[[], None]:
    def wake() -> None:
        first.wake()
        second.wake()

    return wake


def _relay_backlog(relay: OutboxRelay) -> None:
    try:
        sent = relay.relay_all()
    except Exception:
        # Redis or the database down at start must not stop the process: the relay loop
        # sends the backlog (oldest first, like this) as soon as they are back.
        log.exception("could not relay the outbox backlog yet; the relay loop will retry")
        return
    if sent:
        log.info("relayed the outbox backlog", events=sent)
