"""`GET /api/v1/ws`: first-message authentication, ping/pong, then pushes for the user.

flask-sock answers the upgrade on the request thread; the connection is then handed to the
process's socket loop (loop.py) and the request thread returns. An open socket therefore holds
no HTTP thread: thousands of them cost the loop a few kilobytes each and HTTP nothing (R17).
Blocking work (verifying a token, which may ask the denylist store) runs on the loop's check
threads; pushes are written by the loop for the push channel's thread, through the hub.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Protocol, cast

from flask import Blueprint, Flask, request
from flask_sock import Sock  # type: ignore[import-untyped]

from backend.adapters.inbound.http.problems import ProblemError
from backend.adapters.inbound.ws.connection import FrameLimits, LoopSocket
from backend.adapters.inbound.ws.handoff import NoReaderThread, TlsNotSupported, take_connection
from backend.adapters.inbound.ws.hub import (
    GOING_AWAY,
    POLICY_VIOLATION,
    UNAUTHORIZED,
    PushHub,
    SocketSession,
    TokenCheck,
)
from backend.adapters.inbound.ws.loop import SocketLoop
from backend.adapters.inbound.ws.messages import PONG, READY, access_token_of, parse
from backend.application.identity import IdentityService, Unauthenticated
from backend.application.ports.push import PushChannel

log = logging.getLogger(__name__)

WS_PATH: Final = "/api/v1/ws"
#: Where the endpoint lives on the app: `app.extensions[WS_EXTENSION]`.
WS_EXTENSION: Final = "hexbank.ws"
INTERNAL_ERROR: Final = 1011
#: A full process asks the client to come back (or be balanced elsewhere) this much later.
FULL_RETRY_AFTER: Final = 5


@dataclass(frozen=True, slots=True)
class WsOptions:
    """Knobs of the socket endpoint (tests shorten the timings)."""

    auth_timeout: float = 5.0
    ping_interval: float = 20.0
    max_per_user: int = 10
    #: Open sockets this process accepts; beyond them the upgrade is answered 503.
    max_sockets: int = 10_000
    #: A peer that stops reading is dropped after this long with unsent output.
    send_timeout: float = 5.0
    max_message_bytes: int = 4096
    #: The per-socket budget: frames of any kind (pings too) per second, and the burst.
    message_rate: float = 10.0
    message_burst: int = 30

    @property
    def limits(self) -> FrameLimits:
        return FrameLimits(
            self.ping_interval,
            self.send_timeout,
            self.max_message_bytes,
            self.message_rate,
            self.message_burst,
        )


class SocketGauge(Protocol):
    """Counts open sockets (the Prometheus adapter implements it)."""

    def websocket_opened(self) -> None: ...

    def websocket_closed(self) -> None: ...


class _NoGauge:
    def websocket_opened(self) -> None:
        pass

    def websocket_closed(self) -> None:
        pass


def token_check(identity: Callable[[], IdentityService]) -> TokenCheck:
    """True while a token verifies (signature, expiry, denylist); other errors propagate."""

    def valid(token: str) -> bool:
        try:
            identity().verify_access(token)
        except Unauthenticated:
            return False
        return True

    return valid


@dataclass(slots=True)
class _Peer:
    """What the endpoint knows of one socket: its session once authenticated."""

    session: SocketSession | None = None
    authenticating: bool = False
    #: Messages that arrived while the token was being checked, answered after `ready`.
    waiting: list[str] = field(default_factory=list)


#: How an authentication ended: a session, or the close code and reason to end the socket.
_Outcome = SocketSession | tuple[int, str]


class WsEndpoint:
    """The conversation of every socket of this process (runs on the socket loop)."""

    def __init__(
        self,
        hub: PushHub,
        identity: Callable[[], IdentityService],
        token_valid: TokenCheck,
        options: WsOptions,
        gauge: SocketGauge,
    ) -> None:
        self.hub = hub
        self.options = options
        self._gauge = gauge
        self._sweeping = False
        self.loop = SocketLoop()
        self._identity = identity
        self._token_valid = token_valid

    def adopt(self, ws: Any) -> None:
        """Take over the socket of `ws` (a simple_websocket Server past its handshake)."""
        sock = take_connection(ws.sock)
        ws.connected = False  # flask-sock's own close must not write to the handed-off socket
        self.loop.adopt(sock, ws.ws, self, self.options.limits)

    @property
    def open_sockets(self) -> int:
        return self.loop.open_sockets

    def close(self) -> None:
        """Close every socket with 1001 (worker shutdown, tests) and stop listening."""
        self.hub.close()
        self.loop.close_all(GOING_AWAY, "server shutting down")

    # --- Conversation (the loop's thread) ---------------------------------------------------

    def opened(self, socket: LoopSocket) -> None:
        if not self._sweeping:  # the first socket (after any fork): the loop runs now
            self._sweeping = True
            self.loop.call_later(self.options.ping_interval, self._sweep)
        self._gauge.websocket_opened()
        socket.state = _Peer()
        socket.call_later("auth", self.options.auth_timeout, lambda: self._too_late(socket))

    def received(self, socket: LoopSocket, text: str) -> None:
        peer = _peer(socket)
        if peer.session is not None:
            self._answer(socket, text)
        elif peer.authenticating:
            peer.waiting.append(text)  # bounded by the message budget
        else:
            self._authenticate(socket, peer, text)

    def _sweep(self) -> None:
        """Each ping interval: end the sockets whose token expired or was revoked. A token is
        checked once however many sockets share it (a user's tabs do)."""
        by_token: dict[str, list[SocketSession]] = {}
        for session in self.hub.sessions():
            by_token.setdefault(session.token, []).append(session)
        for token, sessions in by_token.items():
            self.loop.check(partial(self._still_valid, token), partial(self._keep, sessions))
        self.loop.call_later(self.options.ping_interval, self._sweep)

    def closed(self, socket: LoopSocket) -> None:
        self._gauge.websocket_closed()
        session = _peer(socket).session
        if session is not None:
            self.hub.remove(session)

    def _too_late(self, socket: LoopSocket) -> None:
        if _peer(socket).session is None:
            socket.close_now(UNAUTHORIZED, "authentication required")

    def _authenticate(self, socket: LoopSocket, peer: _Peer, text: str) -> None:
        token = access_token_of(text)
        if token is None:
            socket.close_now(UNAUTHORIZED, "authentication required")
            return
        peer.authenticating = True
        self.loop.check(lambda: self._register(socket, token), lambda o: self._ready(socket, o))

    def _register(self, socket: LoopSocket, token: str) -> _Outcome:
        """On a check thread: verify the token, join the hub, queue `ready`."""
        try:
            user_id = self._identity().verify_access(token).user_id
        except Unauthenticated:
            return UNAUTHORIZED, "authentication required"
        session = SocketSession(socket, user_id, token)
        # Held across registering and queueing `ready`: no push is queued before it.
        with session.lock:
            if not self.hub.add(session, self.options.max_per_user):
                return POLICY_VIOLATION, "too many connections for this user"
            session.send(READY)
        return session

    def _ready(self, socket: LoopSocket, outcome: _Outcome) -> None:
        if isinstance(outcome, tuple):
            socket.close_now(*outcome)
            return
        peer = _peer(socket)
        peer.session, peer.authenticating = outcome, False
        socket.cancel("auth")
        if not socket.connected:  # the peer left while its token was checked
            self.hub.remove(outcome)
            return
        for text in peer.waiting:
            self._answer(socket, text)
        peer.waiting.clear()

    def _answer(self, socket: LoopSocket, text: str) -> None:
        # Unknown messages are ignored rather than fatal, so that clients can evolve first.
        message = parse(text)
        if message is not None and message.get("type") == "ping":
            socket.send_now(PONG)

    def _still_valid(self, token: str) -> bool:
        try:
            return self._token_valid(token)
        except Exception:
            log.warning("token check failed; sockets kept until the next one", exc_info=True)
            return True

    def _keep(self, sessions: list[SocketSession], valid: bool) -> None:
        if not valid:
            for session in sessions:
                session.close(UNAUTHORIZED, "token expired or revoked")


def _peer(socket: LoopSocket) -> _Peer:
    return cast(_Peer, socket.state)  # set by `opened`, the first callback of every socket


def register_ws(
    app: Flask,
    identity: Callable[[], IdentityService],
    channel: Callable[[], PushChannel],
    options: WsOptions | None = None,
    admit: Callable[[], None] | None = None,
    gauge: SocketGauge | None = None,
) -> WsEndpoint:
    """Add `GET /api/v1/ws` to `app`; the channel is resolved on the first socket.

    `admit` runs before each upgrade (the rate limit: a connect counts as a request); `gauge`
    counts the open sockets."""
    valid = token_check(identity)
    hub = PushHub(channel, valid)
    endpoint = WsEndpoint(hub, identity, valid, options or WsOptions(), gauge or _NoGauge())
    # simple_websocket's reader thread never starts: the socket loop reads every socket.
    app.config["SOCK_SERVER_OPTIONS"] = {"thread_class": NoReaderThread}
    blueprint, sock = Blueprint("websocket", __name__), Sock()

    @blueprint.before_request
    def before_upgrade() -> None:
        if admit is not None:
            admit()
        if endpoint.open_sockets >= endpoint.options.max_sockets:
            detail = "this server holds as many sockets as it may; retry later"
            raise ProblemError("service-unavailable", detail, retry_after=FULL_RETRY_AFTER)
        # No permessage-deflate: messages are small, and each socket's zlib state would cost
        # ~300 KiB (thousands of sockets: gigabytes).
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)

    @sock.route(WS_PATH, bp=blueprint)  # type: ignore[untyped-decorator]
    def websocket(ws: Any) -> None:
        try:
            endpoint.adopt(ws)
        except TlsNotSupported:
            log.exception("cannot serve a WebSocket over gunicorn's own TLS")
            ws.close(INTERNAL_ERROR, "internal error")

    app.register_blueprint(blueprint)
    app.extensions[WS_EXTENSION] = endpoint
    return endpoint


def with_options(app: Flask, **changes: Any) -> WsOptions:
    """Change some options of `app`'s endpoint (tests: `with_options(app, auth_timeout=0.2)`)."""
    endpoint: WsEndpoint = app.extensions[WS_EXTENSION]
    endpoint.options = dataclasses.replace(endpoint.options, **changes)
    return endpoint.options
