"""Taking a WebSocket's connection away from the HTTP server that accepted it.

flask-sock (through simple_websocket) answers the upgrade on the request thread. Left there,
the socket would hold that thread for its whole life (STACK.md gotcha 1); instead the socket
loop adopts the connection and the request thread returns at once. Servers close the socket
of a finished request — gunicorn's gthread half-closes it (`shutdown`), which would end the
connection for every descriptor of it — so the loop keeps a duplicate of the descriptor and
the server's own descriptor number is pointed at a harmless, already-finished socket pair.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any


class TlsNotSupported(Exception):
    """The server terminates TLS itself; the loop only adopts plain TCP connections."""


def take_connection(sock: socket.socket) -> socket.socket:
    """A socket of our own on `sock`'s connection; `sock` now refers to a dead socket pair."""
    if isinstance(sock, ssl.SSLSocket):
        raise TlsNotSupported("terminate TLS in front of hexbank (nginx), not in gunicorn")
    ours = socket.socket(fileno=os.dup(sock.fileno()))
    placeholder, peer = socket.socketpair()
    with placeholder, peer:
        # Atomic: the server's descriptor number never refers to nothing (no reuse race).
        os.dup2(placeholder.fileno(), sock.fileno())
    return ours


class NoReaderThread:
    """simple_websocket's `thread_class`: its reader thread is never started (the loop reads)."""

    def __init__(self, target: Any = None, **_: Any) -> None:
        self.name = "simple_websocket reader (not started)"

    def start(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass
