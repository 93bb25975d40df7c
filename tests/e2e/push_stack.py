"""Helpers for WebSocket tests: the server app live in this process, gunicorn with the deploy
config as a process, and a client of the `/api/v1/ws` protocol (real sockets).

Whole deployments of real processes come from tests/live_stack.py; the in-process server
exists so that a test can reach into the app (`with_options`, the hub, thread counts).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from dependency_injector import providers
from flask import Flask
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from werkzeug.serving import make_server
from wsproto import WSConnection
from wsproto.events import Event

from backend.adapters.inbound.ws.endpoint import WS_EXTENSION, WS_PATH, WsEndpoint
from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.app import CONTAINER_EXTENSION
from backend.config import Settings
from backend.container import Container
from backend.entrypoints.server import BACKGROUND_EXTENSION, create_server_app
from tests.live_stack import PASSWORD, Client, Server, Stack, User, free_port

T = TypeVar("T")
Message = dict[str, Any]
Condition = Callable[[Message], bool]
GUNICORN_CONF = Path(__file__).parents[2] / "deploy" / "gunicorn.conf.py"
#: How long a test waits for an expected message.
PUSH_TIMEOUT = 10.0


class LiveServer:
    """`create_server_app(settings)` (what `hexbank serve` runs, background loops included)
    served by Werkzeug's threaded server on a free loopback port (STACK.md gotcha 8)."""

    def __init__(self, settings: Settings) -> None:
        self.app: Flask = create_server_app(settings)
        self.container: Container = self.app.extensions[CONTAINER_EXTENSION]
        # Test speed only: nothing has built the identity service yet, so it gets this one.
        cheap = Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.container.password_hasher.override(providers.Object(cheap))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Client(self.url)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def ws_url(self) -> str:
        return ws_url(self.url)

    @property
    def endpoint(self) -> WsEndpoint:
        endpoint: WsEndpoint = self.app.extensions[WS_EXTENSION]
        return endpoint

    def stop(self) -> None:
        """Stop as the server process would: loops, sockets, HTTP, then queue and channel."""
        background = self.app.extensions.get(BACKGROUND_EXTENSION)
        if background is not None:
            background.stop()
        self.endpoint.close()
        self.server.shutdown()
        self._thread.join(timeout=5)
        self.server.server_close()
        self.endpoint.loop.stop()
        queue = self.container.job_queue()
        if isinstance(queue, InProcessJobQueue):
            queue.close(wait=False)
        self.container.push_channel().close()
        self.container.engine().dispose()


def deploy_config_server(stack: Stack, **extra_env: str) -> Server:
    """gunicorn run with deploy/gunicorn.conf.py (`backend.entrypoints.wsgi`), in `stack`'s
    deployment."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
    env = stack.env | extra_env | {"HEXBANK_PORT": str(port)}
    server = Server("gunicorn", argv, env, stack.directory / "gunicorn.log", port=port)
    stack.processes.append(server)
    return server.start()


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + WS_PATH


def in_parallel(*calls: Callable[[], T]) -> list[T]:
    """The results of `calls`, run at once (process start-ups, password hashing overlap)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


# --- API calls the WebSocket tests need beyond tests.live_stack.Client ------------------------


def deposit(api: Client, user: User, account_id: str, amount: int) -> None:
    api.expect(201, "POST", f"/accounts/{account_id}/deposits", user, json={"amount": amount})


def log_in_again(api: Client, user: User) -> User:
    """A second login of `user`: a new token pair."""
    body = {"email": user.email, "password": PASSWORD}
    tokens = api.expect(200, "POST", "/auth/token", json=body)
    return User(user.email, tokens["access_token"], tokens["refresh_token"])


def log_out(api: Client, user: User) -> None:
    api.expect(204, "POST", "/auth/logout", user, json={"refresh_token": user.refresh_token})


# --- the socket protocol -----------------------------------------------------------------------


@contextmanager
def authenticated(url: str, user: User, **options: Any) -> Iterator[ClientConnection]:
    """An open socket at `url` (ws://) on which `user` authenticated and got `ready`."""
    with connect(url, open_timeout=5, close_timeout=2, **options) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": user.access_token}))
        assert receive(ws) == {"type": "ready"}
        yield ws


def receive(ws: ClientConnection, timeout: float = 5.0) -> Message:
    message: Message = json.loads(ws.recv(timeout=timeout))
    return message


def receive_until(ws: ClientConnection, *wanted: Condition) -> list[Message]:
    """Every message until each of `wanted` matched one of them; fails after PUSH_TIMEOUT."""
    seen: list[Message] = []
    pending = list(wanted)
    deadline = time.monotonic() + PUSH_TIMEOUT
    while pending:
        seen.append(receive(ws, timeout=max(0.01, deadline - time.monotonic())))
        pending = [condition for condition in pending if not condition(seen[-1])]
    return seen


def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """The code the server closed with (reading and dropping anything before)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def close_code_after_sending(ws: ClientConnection, message: str, times: int) -> int | None:
    """Send `message` `times` times, then the code the server closed with.

    The server may close mid-flood: the send that finds the socket closed reports the code.
    """
    try:
        for _ in range(times):
            ws.send(message)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return close_code(ws)


def completed(transfer_id: str) -> Condition:
    """`transfer.updated` of `transfer_id` with status completed."""
    return lambda m: (
        m["type"] == "transfer.updated"
        and m["data"]["id"] == transfer_id
        and m["data"]["status"] == "completed"
    )


def balance(account_id: str, amount: int) -> Condition:
    """`account.updated` of `account_id` showing `amount` as its balance."""
    return lambda m: (
        m["type"] == "account.updated"
        and m["data"]["id"] == account_id
        and m["data"]["balance"] == amount
    )


def accounts_in(messages: list[Message]) -> set[str]:
    """Ids of the accounts that `account.updated` messages were about."""
    return {m["data"]["id"] for m in messages if m["type"] == "account.updated"}


def next_event(raw: socket.socket, wire: WSConnection) -> Event:
    """The next WebSocket event from a raw client socket (pings are not answered)."""
    while True:
        for event in wire.events():
            return event
        data = raw.recv(65536)
        assert data, "connection closed without a close frame"
        wire.receive_data(data)
