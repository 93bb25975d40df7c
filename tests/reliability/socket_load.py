"""Thousands of WebSocket clients in one asyncio loop, for R17 (sockets never starve HTTP).

A `SocketCrowd` runs its own loop thread and opens raw wsproto clients to `/api/v1/ws`:
authenticated ones that sit and answer pings, ones that never send `auth` (and may reconnect
each time the server closes them), and flooders that send pings as fast as they can. Every
close is recorded with its code and how long the socket had been open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from backend.adapters.inbound.ws.endpoint import WS_PATH

T = TypeVar("T")
#: Longest pause before a closed client reconnects (clients back off, randomly).
RECONNECT_PAUSE = 0.5
#: How long a flooder that was cut off waits before it connects and floods again.
FLOODER_PAUSE = 1.0


@dataclass(frozen=True)
class Closed:
    """How one socket ended: the server's close code, and how long after its upgrade request
    the client saw it (never less than the server's own time; more on a busy machine)."""

    kind: str
    code: int | None
    after: float


@dataclass
class CrowdStats:
    """What the crowd saw (read from the test's thread; appended to by the loop)."""

    upgraded: int = 0
    refused: list[int] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)

    def closes(self, kind: str) -> list[Closed]:
        return [c for c in self.closed if c.kind == kind]


class SocketCrowd:
    """Clients of one server, driven by a loop thread of their own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stats = CrowdStats()
        self.stopping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._tasks: list[asyncio.Future[Any]] = []

    def open_waiting(self, count: int, reconnect: bool = False, spread: float = 0) -> None:
        """`count` sockets that never authenticate, connecting over `spread` seconds; if asked,
        each reconnects after a random pause (up to RECONNECT_PAUSE s) once closed."""
        self._spawn(count, lambda: self._waiting(reconnect, spread))

    def open_authenticated(self, tokens: list[str]) -> None:
        """One socket per token in `tokens`; each authenticates and then sits, answering pings."""
        for token in tokens:
            self._spawn(1, lambda token=token: self._sitting(token))

    def open_flooders(self, tokens: list[str]) -> None:
        """One socket per token that authenticates, then pings without pause; reconnects."""
        for token in tokens:
            self._spawn(1, lambda token=token: self._flooding(token))

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for task in self._tasks:
            self._loop.call_soon_threadsafe(task.cancel)
        self.run(asyncio.sleep(0.2))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # --- on the crowd's loop --------------------------------------------------------------

    def _spawn(self, count: int, client: Any) -> None:
        for _ in range(count):
            future = asyncio.run_coroutine_threadsafe(client(), self._loop)
            self._tasks.append(asyncio.wrap_future(future, loop=self._loop))

    async def _waiting(self, reconnect: bool, spread: float) -> None:
        await asyncio.sleep(random.uniform(0, spread))  # noqa: S311 (not cryptography)
        while not self.stopping:
            socket = await self._connect()
            if socket is not None:
                await socket.read_until_closed("waiting")
            if not reconnect:
                return
            await asyncio.sleep(random.uniform(0, RECONNECT_PAUSE))  # noqa: S311

    async def _sitting(self, token: str) -> None:
        socket = await self._connect()
        if socket is not None and await socket.authenticate(token):
            await socket.read_until_closed("authenticated")

    async def _flooding(self, token: str) -> None:
        while not self.stopping:
            socket = await self._connect()
            if socket is None or not await socket.authenticate(token):
                await asyncio.sleep(0.1)
                continue
            reader = asyncio.ensure_future(socket.read_until_closed("flooder"))
            with contextlib.suppress(ConnectionError):
                while not reader.done():
                    socket.send(TextMessage(json.dumps({"type": "ping"})))
                    socket.send(Ping())
                    await socket.writer.drain()  # as fast as the server reads, no faster
                    await asyncio.sleep(0)  # drain does not yield while under its limit
            await reader
            await asyncio.sleep(FLOODER_PAUSE)  # a connect flood is the rate limit's business

    async def _connect(self) -> _ClientSocket | None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**16)
        except OSError:
            self.stats.refused.append(0)
            await asyncio.sleep(0.1)
            return None
        socket = _ClientSocket(reader, writer, self.stats)
        if not await socket.upgrade(f"127.0.0.1:{self.port}"):
            return None
        return socket


class _ClientSocket:
    """One raw WebSocket client (wsproto over asyncio streams)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: CrowdStats
    ) -> None:
        self.wire = WSConnection(ConnectionType.CLIENT)
        self.reader, self.writer, self.stats = reader, writer, stats
        self.opened = time.monotonic()

    def send(self, event: Event) -> None:
        with contextlib.suppress(Exception):  # the server may have closed it meanwhile
            self.writer.write(self.wire.send(event))

    async def upgrade(self, host: str) -> bool:
        # Timed from the request: the server's timers cannot start before it (a busy client
        # may notice the 101 late, but never early).
        self.opened = time.monotonic()
        self.send(Request(host=host, target=WS_PATH))
        event = await self._next()
        if isinstance(event, AcceptConnection):
            self.stats.upgraded += 1
            return True
        self.stats.refused.append(event.status_code if isinstance(event, RejectConnection) else 0)
        self.writer.close()
        return False

    async def authenticate(self, token: str) -> bool:
        self.send(TextMessage(json.dumps({"type": "auth", "access_token": token})))
        event = await self._next()
        return isinstance(event, TextMessage) and json.loads(event.data) == {"type": "ready"}

    async def read_until_closed(self, kind: str) -> None:
        """Answer pings, drop messages, until the server closes; record how it ended."""
        code: int | None = None
        try:
            while (event := await self._next()) is not None:
                if isinstance(event, Ping):
                    self.send(event.response())
                elif isinstance(event, CloseConnection):
                    code = event.code
                    self.send(event.response())
                    break
        except asyncio.CancelledError:  # the crowd stopped: the server did not close it
            self.writer.close()
            raise
        self.stats.closed.append(Closed(kind, code, time.monotonic() - self.opened))
        self.writer.close()

    async def _next(self) -> Event | None:
        while True:
            for event in self.wire.events():
                return event
            try:
                data = await self.reader.read(65536)
            except OSError:
                data = b""
            if not data:
                return None
            self.wire.receive_data(data)


class CrowdProcess:
    """A SocketCrowd in a process of its own, so that its work never competes with the test's
    own HTTP probes for one interpreter lock (which would inflate the latencies measured)."""

    def __init__(self, port: int, plan: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self._open = context.Value("i", 0)
        self._stop = context.Event()
        self._result: multiprocessing.Queue[CrowdStats] = context.Queue()
        self._process = context.Process(
            target=_run_crowd, args=(port, plan, self._open, self._stop, self._result)
        )
        self._process.start()

    @property
    def open_now(self) -> int:
        """Sockets upgraded and not closed by the server, as of a tenth of a second ago."""
        return int(self._open.value)

    def stop(self) -> CrowdStats:
        self._stop.set()
        stats = self._result.get(timeout=60)
        self._process.join(timeout=10)
        return stats

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()


def _run_crowd(port: int, plan: dict[str, Any], open_now: Any, stop: Any, result: Any) -> None:
    crowd = SocketCrowd(port)
    crowd.open_authenticated(plan["authenticated"])
    crowd.open_flooders(plan["flooders"])
    crowd.open_waiting(plan["waiting"], reconnect=True, spread=plan["spread"])
    while not stop.wait(0.1):
        open_now.value = crowd.stats.upgraded - len(crowd.stats.closed)
    crowd.stop()
    result.put(crowd.stats)
