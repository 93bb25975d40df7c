"""In-memory push channel: embedded mode, where publishers and sockets share one process."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from backend.application.ports.push import PushDelivery, PushEncoder, PushMessage, StopListening

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000
MAX_BURST = 500


class InMemoryPushChannel:
    """PushChannel within one process: a bounded queue and one delivery thread.

    Publishing only enqueues, so the job thread that publishes never waits on a socket;
    the delivery thread fans each message out to the listeners (the process's hub), like
    the Redis channel's subscriber thread does in distributed mode.
    """

    def __init__(self, encode: PushEncoder, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._encode = encode
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(max_pending)
        self._listeners: list[PushDelivery] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def publish(self, messages: Sequence[PushMessage]) -> None:
        if not self._listeners:
            return  # nobody to tell: pushes are not kept
        for message in messages:
            try:
                self._queue.put_nowait((message.user_id, self._encode(message)))
            except queue.Full:
                log.warning("push queue full; message dropped", extra={"user": message.user_id})

    def listen(self, deliver: PushDelivery) -> StopListening:
        with self._lock:
            self._listeners = [*self._listeners, deliver]  # copy-on-write: the thread reads it
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hexbank-push-memory", daemon=True
                )
                self._thread.start()
        return lambda: self._forget(deliver)

    def close(self) -> None:
        with self._lock:
            thread, self._thread, self._listeners = self._thread, None, []
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)

    def _forget(self, deliver: PushDelivery) -> None:
        with self._lock:
            self._listeners = [d for d in self._listeners if d is not deliver]

    def _run(self) -> None:
        while (burst := self._next_burst()) is not None:
            for deliver in self._listeners:
                try:
                    deliver(burst)
                except Exception:  # one listener's failure must not starve the others
                    log.exception("push delivery failed")

    def _next_burst(self) -> list[tuple[str, str]] | None:
        """The next message and whatever queued up behind it; None once closed."""
        first = self._queue.get()
        if first is None:
            return None
        burst = [first]
        while len(burst) < MAX_BURST:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # deliver this burst, then stop
                break
            burst.append(item)
        return burst
