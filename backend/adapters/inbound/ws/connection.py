"""One adopted WebSocket on the socket loop: frames in and out, pings, the message budget.

Everything here runs on the loop's thread, except `send` and `close`, which any thread may call:
they hand the work to the loop (`call_soon_threadsafe`), so frames are written by one thread in
the order they were asked for, and never interleave.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol, cast

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.utilities import ProtocolError

from backend.adapters.inbound.ws.budget import MessageBudget

log = logging.getLogger(__name__)

POLICY_VIOLATION: Final = 1008
MESSAGE_TOO_BIG: Final = 1009
#: How long a closing socket waits for the peer's close frame before dropping the connection.
CLOSE_WAIT_SECONDS: Final = 2.0
#: Output buffered for a peer that does not read, beyond which the loop waits `send_timeout`.
WRITE_HIGH_WATER: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """What one socket may cost: message size, frame rate, silence, unread output."""

    ping_interval: float
    send_timeout: float
    max_message_bytes: int
    message_rate: float
    message_burst: int


class Conversation(Protocol):
    """The application side of a socket (the endpoint): told of its messages and its life."""

    def opened(self, socket: LoopSocket) -> None: ...

    def received(self, socket: LoopSocket, text: str) -> None: ...

    def closed(self, socket: LoopSocket) -> None: ...


class LoopSocket(asyncio.Protocol):
    """An open WebSocket whose handshake is done; driven by the loop's reads and timers."""

    def __init__(self, wire: WSConnection, conversation: Conversation, limits: FrameLimits) -> None:
        self.wire = wire
        self.limits = limits
        self.connected = True
        #: The endpoint's per-socket state (authentication, session).
        self.state: object = None
        self._conversation = conversation
        self._budget = MessageBudget(limits.message_rate, limits.message_burst)
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._message: list[str] = []
        self._message_bytes = 0
        self._pong_due = False
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # --- any thread ------------------------------------------------------------------------

    def send(self, data: str) -> None:
        """Queue a text message (it goes out after everything queued before it)."""
        if not self.connected or self._loop is None:
            raise ConnectionError("socket closed")
        self._loop.call_soon_threadsafe(self.send_now, data)

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Start the closing handshake with `reason` (a close code) and `message`."""
        if self._loop is not None and self.connected:
            self._loop.call_soon_threadsafe(self.close_now, reason or 1000, message or "")

    # --- the loop's thread -----------------------------------------------------------------

    def call_later(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback()` after `delay` s unless the socket ends first (one timer per name)."""
        self.cancel(name)
        if self._loop is not None:
            self._timers[name] = self._loop.call_later(delay, callback)

    def cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def send_now(self, data: str) -> None:
        if self.connected and self._transport is not None:
            self._transport.write(self.wire.send(TextMessage(data=data)))

    def close_now(self, code: int, reason: str, linger: bool = True) -> None:
        """Send a close frame; wait (briefly) for the peer's, reading on only if `linger`."""
        if not self.connected or self._transport is None:
            return
        self.connected = False
        if self.wire.state is ConnectionState.OPEN:
            self._transport.write(self.wire.send(CloseConnection(code=code, reason=reason)))
        if not linger:
            # Read nothing more (TCP flow control then stops the peer), but give the close
            # frame time to arrive: closing now, with unread input, would reset the connection.
            self._transport.pause_reading()
        self.call_later("close", CLOSE_WAIT_SECONDS, self._abort)
        self._conversation.closed(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream socket's transport
        self._loop = asyncio.get_running_loop()
        self._transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.call_later("ping", self.limits.ping_interval, self._ping)
        self._conversation.opened(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.wire.receive_data(data)
            for event in self.wire.events():
                if isinstance(event, CloseConnection):
                    self._on_close(event)
                    return
                if self.connected:  # a closing socket only waits for the peer's close
                    self._on_event(event)
        except ProtocolError:
            log.debug("protocol error from a peer; dropped", exc_info=True)
            self._abort()

    def eof_received(self) -> bool:
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        for name in list(self._timers):
            self.cancel(name)
        if self.connected:
            self.connected = False
            self._conversation.closed(self)

    def pause_writing(self) -> None:
        # A peer that stops reading must not grow our memory for ever.
        self.call_later("unread", self.limits.send_timeout, self._abort)

    def resume_writing(self) -> None:
        self.cancel("unread")

    def _on_event(self, event: Event) -> None:
        if not self._budget.take(time.monotonic()):
            # No lingering for a flooder's close frame: its frames would keep costing us.
            self.close_now(POLICY_VIOLATION, "too many messages", linger=False)
        elif isinstance(event, TextMessage | BytesMessage):
            self._on_data(event)
        elif isinstance(event, Ping):
            self._write(event.response())
        elif isinstance(event, Pong):
            self._pong_due = False

    def _on_data(self, event: TextMessage | BytesMessage) -> None:
        # Bytes are not part of the protocol: they count against the budget, then are dropped.
        text = event.data if isinstance(event, TextMessage) else ""
        self._message_bytes += len(event.data)
        if self._message_bytes > self.limits.max_message_bytes:
            self.close_now(MESSAGE_TOO_BIG, "message too big")
            return
        self._message.append(text)
        if event.message_finished:
            whole, self._message, self._message_bytes = "".join(self._message), [], 0
            if isinstance(event, TextMessage):
                self._conversation.received(self, whole)

    def _on_close(self, event: CloseConnection) -> None:
        if self.wire.state is ConnectionState.REMOTE_CLOSING:
            self._write(event.response())
        if self._transport is not None:  # closed by the peer, or the answer to our close
            self._transport.close()
        if self.connected:
            self.connected = False
            self._conversation.closed(self)

    def _ping(self) -> None:
        """Each interval: a peer that left our last ping unanswered is gone; else ping again."""
        if self._pong_due:
            self.close_now(POLICY_VIOLATION, "Ping/Pong timeout")
            return
        self._pong_due = True
        self._write(Ping())
        self.call_later("ping", self.limits.ping_interval, self._ping)

    def _write(self, event: Event) -> None:
        if self._transport is not None and self.wire.state is ConnectionState.OPEN:
            self._transport.write(self.wire.send(event))

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
