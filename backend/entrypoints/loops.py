"""Background loops that drive the messaging side: the outbox relay, the transfer sweeper and
the projection follower.

Embedded mode runs them in the web process (`hexbank serve`), distributed mode in each
`hexbank worker`; several relays at once are safe (PostgreSQL splits the backlog with SKIP
LOCKED, and a duplicate delivery changes nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.application.ports.commit_signal import CommitSignal, StopWaking
from backend.application.projections.runner import ProjectionRunner
from backend.application.relay import OutboxRelay, Wakeup
from backend.application.sweeper import TransferSweeper
from backend.logging_setup import get_logger

log = get_logger(__name__)

RELAY_LOOP, SWEEP_LOOP, PROJECTION_LOOP = "hexbank-relay", "hexbank-sweeper", "hexbank-projections"
#: Seconds between relay polls when idle (a delivered batch wakes the relay sooner).
RELAY_IDLE = 0.05
#: ... when commits in other processes signal the relay too: the poll is only the fallback.
SIGNALLED_RELAY_IDLE = 0.5
#: Seconds between sweeps.
SWEEP_EVERY = 1.0
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
    """The relay and sweeper loops of one process, started and stopped together."""

    relay: OutboxRelay
    sweeper: TransferSweeper
    projections: ProjectionRunner | None = None
    #: Woken by this process's commands and deliveries (the container's `relay_wakeup`). Only
    #: the relay: inline projection already applied those events, and waking the follower per
    #: job cost a lag query per projection and a page per job (a third of a worker's CPU under
    #: load); it catches up in large pages every PROJECTION_IDLE instead.
    relay_wakeup: Wakeup = field(default_factory=Wakeup)
    relay_idle: float = RELAY_IDLE
    loops: dict[str, PollingLoop] = field(default_factory=dict)
    stop_waking: list[StopWaking] = field(default_factory=list)

    def start(self, relay: bool = True, sweep: bool = True) -> None:
        if relay:
            tick, wakeup = self.relay.relay_once, self.relay_wakeup
            self.loops[RELAY_LOOP] = PollingLoop(RELAY_LOOP, tick, self.relay_idle, wakeup)
        if sweep:
            self.loops[SWEEP_LOOP] = PollingLoop(SWEEP_LOOP, self._sweep, SWEEP_EVERY)
        if self.projections is not None:
            # The follower catches up what inline projection could not see (e.g. a rebuild's
            # tail); it is idempotent, so running beside the inline path is safe.
            tick = self.projections.tick_backlog
            self.loops[PROJECTION_LOOP] = PollingLoop(PROJECTION_LOOP, tick, PROJECTION_IDLE)
        for loop in self.loops.values():
            loop.start()

    def stop(self) -> None:
        for stop_waking in self.stop_waking:
            stop_waking()
        for loop in self.loops.values():
            loop.stop_event.set()
        for loop in self.loops.values():
            loop.stop()

    def _sweep(self) -> int:
        # Always wait a period between sweeps: a sweep drives every overdue transfer it finds.
        self.sweeper.sweep_once()
        return 0


def start_messaging(
    relay: OutboxRelay,
    sweeper: TransferSweeper,
    relay_wakeup: Wakeup | None = None,
    run_relay: bool = True,
    run_sweeper: bool = True,
    projections: ProjectionRunner | None = None,
    signal: CommitSignal | None = None,
) -> MessagingLoops:
    """What `hexbank serve` (embedded mode) and `hexbank worker` start in their process.

    First the backlog: rows a killed process enqueued but never marked (or never enqueued)
    are sent again before anything new. Then the relay and sweeper loops; the sweeper ends
    the transfers whose jobs died with a previous process. With this process's relay wakeup
    (which its dispatcher wakes after each batch), a saga does not wait for polls; with the
    commit `signal`, neither does a command committed in a web process (the relay then polls
    only as a fallback, every SIGNALLED_RELAY_IDLE).
    """
    if run_relay:
        _relay_backlog(relay)
    wakeup = relay_wakeup or Wakeup()
    signalled = signal is not None and run_relay
    idle = SIGNALLED_RELAY_IDLE if signalled else RELAY_IDLE
    loops = MessagingLoops(relay, sweeper, projections, wakeup, relay_idle=idle)
    loops.start(run_relay, run_sweeper)
    if signal is not None and signalled:
        loops.stop_waking.append(signal.listen(wakeup.wake))
    return loops


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
