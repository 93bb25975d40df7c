"""`GET /api/v1/ws`: first-message authentication, ping/pong, then pushes for the user.

Each open socket holds one server thread (gunicorn gthread or Werkzeug) blocked in `receive`;
pushes are written by the push channel's thread through the hub. simple_websocket adds one
reader thread per socket, which also sends the protocol-level pings and closes a peer that
does not answer one within an interval.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from flask import Blueprint, Flask
from flask_sock import Sock  # type: ignore[import-untyped]
from simple_websocket import ConnectionClosed

from backend.adapters.inbound.ws.hub import (
    POLICY_VIOLATION,
    UNAUTHORIZED,
    PushHub,
    SocketSession,
    TokenCheck,
    WebSocket,
)
from backend.adapters.inbound.ws.messages import PONG, READY, access_token_of, parse
from backend.application.identity import IdentityService, Unauthenticated
from backend.application.ports.push import PushChannel

log = logging.getLogger(__name__)

WS_PATH: Final = "/api/v1/ws"
#: Where the endpoint lives on the app: `app.extensions[WS_EXTENSION]`.
WS_EXTENSION: Final = "hexbank.ws"
INTERNAL_ERROR: Final = 1011
NORMAL_CLOSURE: Final = 1000
#: How long a handler waits for the peer to acknowledge a close.
CLOSE_WAIT_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class WsOptions:
    """Knobs of the socket endpoint (tests shorten the timings)."""

    auth_timeout: float = 5.0
    ping_interval: float = 20.0
    max_per_user: int = 10
    #: A peer that stops reading must not stall the fan-out thread for long.
    send_timeout: float = 5.0
    max_message_bytes: int = 4096


def token_check(identity: Callable[[], IdentityService]) -> TokenCheck:
    """True while a token verifies (signature, expiry, denylist); other errors propagate."""

    def valid(token: str) -> bool:
        try:
            identity().verify_access(token)
        except Unauthenticated:
            return False
        return True

    return valid


class WsEndpoint:
    """Serves one socket per call to `serve`, on the server thread that accepted it."""

    def __init__(self, hub: PushHub, token_valid: TokenCheck, options: WsOptions) -> None:
        self.hub = hub
        self.options = options
        self._token_valid = token_valid

    def serve(self, ws: WebSocket, identity: IdentityService) -> None:
        session = self._authenticate(ws, identity)
        if session is None:
            return
        # Hold the session's send lock across registering and `ready`: no push overtakes it.
        with session.lock:
            if not self.hub.add(session, self.options.max_per_user):
                session.close(POLICY_VIOLATION, "too many connections for this user")
                return
            session.send(READY)
        try:
            self._converse(session)
        finally:
            self.hub.remove(session)

    def _authenticate(self, ws: WebSocket, identity: IdentityService) -> SocketSession | None:
        token = access_token_of(ws.receive(timeout=self.options.auth_timeout))
        try:
            user_id = identity.verify_access(token).user_id if token else None
        except Unauthenticated:
            user_id = None
        if token is None or user_id is None:
            ws.close(UNAUTHORIZED, "authentication required")
            return None
        _bound_sends(ws, self.options.send_timeout)
        return SocketSession(ws, user_id, token)

    def _converse(self, session: SocketSession) -> None:
        """Answer pings; at each interval, end the socket if its token expired or was revoked."""
        interval = self.options.ping_interval
        next_check = time.monotonic() + interval
        while session.open:
            text = session.ws.receive(timeout=max(0.0, next_check - time.monotonic()))
            if text is not None:
                self._answer(session, text)
            if time.monotonic() >= next_check:
                if not self._still_valid(session):
                    session.close(UNAUTHORIZED, "token expired or revoked")
                    return
                next_check = time.monotonic() + interval

    def _answer(self, session: SocketSession, text: str | bytes) -> None:
        # Unknown messages are ignored rather than fatal, so that clients can evolve first.
        message = parse(text)
        if message is not None and message.get("type") == "ping":
            session.send(PONG)

    def _still_valid(self, session: SocketSession) -> bool:
        try:
            return self._token_valid(session.token)
        except Exception:
            log.warning("token check failed; socket kept until the next one", exc_info=True)
            return True

    def configure(self, app: Flask, options: WsOptions) -> None:
        """Apply `options` (also to the sockets simple_websocket creates from now on)."""
        self.options = options
        app.config["SOCK_SERVER_OPTIONS"] = {
            "ping_interval": options.ping_interval,
            "max_message_size": options.max_message_bytes,
        }


def _bound_sends(ws: WebSocket, seconds: float) -> None:
    # The reader thread selects before each recv when pings are on, so a socket timeout
    # bounds only sends: a peer that stops reading fails its send instead of blocking.
    sock = getattr(ws, "sock", None)
    if sock is not None and getattr(ws, "ping_interval", None):
        sock.settimeout(seconds)


def _finish_closing(ws: Any) -> None:
    """Close (if still open) and wait, briefly, for the peer's close reply.

    Returning at once would hand the socket back to the server while the peer's reply is in
    flight: Werkzeug then drains the socket with a blocking read and the peer waits for a TCP
    close that never comes. Once simple_websocket's reader took the reply, it closes the socket.
    """
    if ws.connected:
        SocketSession(ws, "", "").close(NORMAL_CLOSURE, "")
    reader = getattr(ws, "thread", None)
    if reader is not None:
        reader.join(CLOSE_WAIT_SECONDS)


def register_ws(
    app: Flask,
    identity: Callable[[], IdentityService],
    channel: Callable[[], PushChannel],
    options: WsOptions | None = None,
) -> WsEndpoint:
    """Add `GET /api/v1/ws` to `app`; the channel is resolved on the first socket."""
    valid = token_check(identity)
    endpoint = WsEndpoint(PushHub(channel, valid), valid, options or WsOptions())
    endpoint.configure(app, endpoint.options)
    blueprint, sock = Blueprint("websocket", __name__), Sock()

    @sock.route(WS_PATH, bp=blueprint)  # type: ignore[untyped-decorator]
    def websocket(ws: Any) -> None:
        try:
            endpoint.serve(ws, identity())
        except ConnectionClosed:
            pass  # the peer left: the normal end of a socket
        except Exception:
            log.exception("websocket handler failed")
            SocketSession(ws, "", "").close(INTERNAL_ERROR, "internal error")
        finally:
            _finish_closing(ws)

    app.register_blueprint(blueprint)
    app.extensions[WS_EXTENSION] = endpoint
    return endpoint


def with_options(app: Flask, **changes: Any) -> WsOptions:
    """Change some options of `app`'s endpoint (tests: `with_options(app, auth_timeout=0.2)`)."""
    endpoint: WsEndpoint = app.extensions[WS_EXTENSION]
    options = dataclasses.replace(endpoint.options, **changes)
    endpoint.configure(app, options)
    return options
