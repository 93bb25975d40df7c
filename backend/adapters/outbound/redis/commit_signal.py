"""Redis commit signal: distributed mode, where commands commit in web processes and the
relays run in `hexbank worker` processes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

import redis

from backend.application.ports.commit_signal import StopWaking

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "hexbank:"
POLL_SECONDS: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 10.0


class RedisCommitSignal:
    """CommitSignal over Redis pub/sub, on the channel `<prefix>outbox`.

    `notify` only sets a flag: one publisher thread per process publishes once for every
    commit flagged since its previous publish, so no request waits on Redis and a busy web
    process sends one PUBLISH per round trip, not one per command. Listeners share one
    subscriber thread per process. (PostgreSQL's NOTIFY would need no Redis, but it makes
    every notifying transaction take one database-wide lock at commit, in turn.)
    """

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self.channel = f"{prefix}outbox"
        self._flagged = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._listeners: list[Callable[[], None]] = []

    def notify(self) -> None:
        self._flagged.set()
        if "publisher" not in self._threads:
            self._start("publisher", self._publish_flagged)

    def listen(self, wake: Callable[[], None]) -> StopWaking:
        with self._lock:
            self._listeners = [*self._listeners, wake]  # copy-on-write: the thread reads it
        self._start("subscriber", self._wake_on_messages)
        return lambda: self._forget(wake)

    def close(self) -> None:
        self._stop.set()
        for thread in list(self._threads.values()):
            thread.join(POLL_SECONDS * 4)

    def _forget(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._listeners = [w for w in self._listeners if w is not wake]

    def _start(self, role: str, step: Callable[[], None]) -> None:
        with self._lock:
            if role in self._threads:
                return
            thread = threading.Thread(
                target=self._forever, args=(role, step), name=f"hexbank-signal-{role}", daemon=True
            )
            self._threads[role] = thread
        thread.start()

    def _forever(self, role: str, step: Callable[[], None]) -> None:
        """Run `step` until closed, backing off while Redis fails (the relays poll anyway)."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                step()
                backoff = 0.1
            except redis.RedisError:
                log.warning("commit signal %s lost Redis; retrying in %.1fs", role, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _publish_flagged(self) -> None:
        while not self._stop.is_set():
            if self._flagged.wait(POLL_SECONDS):
                self._flagged.clear()  # before publishing: a commit from now on flags again
                self._client.publish(self.channel, b"1")

    def _wake_on_messages(self) -> None:
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=POLL_SECONDS)
                # Once subscribed (again, after a lost connection): commits made meanwhile
                # were not signalled, so wake the relays once for them.
                if message is not None and message["type"] in ("message", "subscribe"):
                    self._wake()
        finally:
            pubsub.close()

    def _wake(self) -> None:
        for wake in self._listeners:
            try:
                wake()
            except Exception:  # one listener's failure must not silence the others
                log.exception("commit signal listener failed")
