"""WebhookTransport over http.client: signed with `standardwebhooks`, bounded in time, and
connected to the address that was checked (SSRF: the host is resolved and checked at every
send, and the connection goes to that very address, so DNS cannot swap it in between)."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from backend.application.ports.webhook_transport import SendResult
from backend.application.webhooks import InvalidWebhookUrl, UrlPolicy

USER_AGENT = "hexbank-webhooks/1"
#: How a host's addresses are found (socket.getaddrinfo's signature).
Resolve = Callable[..., Sequence[tuple[Any, ...]]]
#: What is read of a receiver's answer: its status line and headers, and this much body.
MAX_RESPONSE_BYTES = 4096


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class HttpWebhookTransport:
    """POSTs a signed payload; any failure is a SendResult, never an exception.

    Each thread keeps its last connection open for the next attempt to the same checked
    address (a chain of one subject's deliveries costs one connection, as receivers that keep
    connections alive allow); one that the receiver closed meanwhile is replaced once."""

    def __init__(self, policy: UrlPolicy, resolve: Resolve = socket.getaddrinfo) -> None:
        self._policy = policy
        self._resolve = resolve
        self._kept = threading.local()

    def post(self, url: str, secret: str, message_id: str, body: str, timeout: float) -> SendResult:
        deadline = time.monotonic() + timeout
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, body),
        }
        try:
            self._policy.check(url)
            key = self._checked(url)
        except InvalidWebhookUrl as refused:
            return SendResult(None, f"refused: {refused}")
        except OSError as error:
            return SendResult(None, _describe(error))
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept: tuple[_Key, http.client.HTTPConnection] | None = getattr(self._kept, "last", None)
        self._kept.last = None
        if kept is not None and kept[0] != key:
            kept[1].close()
            kept = None
        if kept is not None:
            result = self._exchange(kept[1], key, target, body, headers, deadline)
            if result is not None:
                return result
        try:
            connection = _connection(key, timeout)
        except OSError as error:
            return SendResult(None, _describe(error))
        return self._exchange(connection, key, target, body, headers, deadline, fresh=True) or (
            SendResult(None, "connection closed")
        )

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        key: _Key,
        target: str,
        body: str,
        headers: dict[str, str],
        deadline: float,
        fresh: bool = False,
    ) -> SendResult | None:
        """One request on `connection`; None when a kept connection turned out closed before
        anything was answered (try a fresh one)."""
        try:
            _limit(connection, deadline)
            connection.request("POST", target, body=body.encode(), headers=headers)
            _limit(connection, deadline)
            response = connection.getresponse()
            _limit(connection, deadline)
            response.read(MAX_RESPONSE_BYTES)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
            connection.close()
            return SendResult(None, _describe(error)) if fresh else None
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return SendResult(None, _describe(error))
        if response.will_close or not response.isclosed():
            connection.close()  # not reusable: closed by the receiver, or a body left unread
        else:
            self._kept.last = (key, connection)
        return SendResult(response.status)

    def _checked(self, url: str) -> _Key:
        """Where to connect for `url`: its host resolved now, each address checked."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        found = self._resolve(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in found]
        self._policy.check_addresses(host, addresses)
        return _Key(secure, host, port, addresses[0])


@dataclass(frozen=True)
class _Key:
    secure: bool
    host: str
    port: int
    address: str


def _connection(key: _Key, timeout: float) -> http.client.HTTPConnection:
    cls = _PinnedHTTPSConnection if key.secure else _PinnedHTTPConnection
    connection = cls(key.host, key.port, key.address, timeout)
    connection.connect()
    return connection


def _limit(connection: http.client.HTTPConnection, deadline: float) -> None:
    """What is left of the attempt's time, for the next read (a slow drip cannot extend it)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "could not resolve the host"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return f"{type(error).__name__}: {error}"[:500]
