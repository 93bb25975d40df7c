"""The socket loop: one asyncio event loop thread per web process that holds every open
WebSocket, so that an open socket costs a few kilobytes and no HTTP thread.

Blocking checks (token verification, which may query the denylist store) run on a small
thread pool of the loop's own, never on the loop: one slow check must not stall every socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

from wsproto import WSConnection

from backend.adapters.inbound.ws.connection import Conversation, FrameLimits, LoopSocket

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Threads for blocking checks: enough to overlap a few denylist round trips.
CHECK_THREADS: Final = 4


class SocketLoop:
    """Adopts handed-off connections; started on the first one (after any fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._checks: ThreadPoolExecutor | None = None
        self._sockets: set[LoopSocket] = set()

    def adopt(
        self,
        sock: socket.socket,
        wire: WSConnection,
        conversation: Conversation,
        limits: FrameLimits,
    ) -> None:
        """Serve the open WebSocket on `sock` from now on (any thread; returns at once)."""
        loop, _ = self._running()
        protocol = LoopSocket(wire, _Tracked(conversation, self._sockets), limits)

        async def connect() -> None:
            await loop.connect_accepted_socket(lambda: protocol, sock)

        asyncio.run_coroutine_threadsafe(connect(), loop).add_done_callback(_log_failure)

    def check(self, work: Callable[[], T], then: Callable[[T], None]) -> None:
        """Run blocking `work` off the loop; call `then(result)` back on the loop's thread."""
        loop, checks = self._running()

        def done(future: Future[T]) -> None:
            if future.exception() is None:
                loop.call_soon_threadsafe(then, future.result())
            else:
                log.error("socket check failed", exc_info=future.exception())

        checks.submit(work).add_done_callback(done)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` on the loop's thread after `delay` s (call it from that thread)."""
        self._running()[0].call_later(delay, callback)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket (any thread): shutdown and tests."""
        loop = self._loop
        if loop is not None:
            for protocol in list(self._sockets):
                loop.call_soon_threadsafe(protocol.close_now, code, reason)

    def stop(self) -> None:
        """End the loop thread (sockets still open are dropped) and the check threads."""
        with self._lock:
            loop, thread, checks = self._loop, self._thread, self._checks
            self._loop = self._thread = self._checks = None
        if loop is not None and thread is not None and checks is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            checks.shutdown(wait=False)

    def _running(self) -> tuple[asyncio.AbstractEventLoop, ThreadPoolExecutor]:
        with self._lock:
            if self._loop is None or self._checks is None:
                self._loop = asyncio.new_event_loop()
                self._checks = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="ws-check")
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="ws-loop", daemon=True
                )
                self._thread.start()
            return self._loop, self._checks


class _Tracked:
    """A conversation wrapper that keeps the loop's set of open sockets."""

    def __init__(self, inner: Conversation, sockets: set[LoopSocket]) -> None:
        self._inner = inner
        self._sockets = sockets

    def opened(self, socket: LoopSocket) -> None:
        self._sockets.add(socket)
        self._inner.opened(socket)

    def received(self, socket: LoopSocket, text: str) -> None:
        self._inner.received(socket, text)

    def closed(self, socket: LoopSocket) -> None:
        self._sockets.discard(socket)
        self._inner.closed(socket)


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("adopting a WebSocket failed", exc_info=future.exception())
