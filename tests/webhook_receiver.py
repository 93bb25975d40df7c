"""A real HTTP receiver for webhook tests: a threaded http.server on 127.0.0.1 that records
every POST and answers from a script (a status code, or "slow": answer after the sender gave
up), then 200."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: How long a "slow" answer waits: longer than the tests' webhook timeout.
SLOW_SECONDS = 5.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str
    #: When it arrived (time.time(), for latency figures).
    at: float = 0.0


def free_port() -> int:
    """A port nothing listens on (yet): where a receiver that is down would be."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    """Records requests; `script` answers them in turn (then 200)."""

    def __init__(self, port: int = 0, script: list[int | str] | None = None) -> None:
        self.script = list(script or [])
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections alive, as real receivers do

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(Received(self.path, headers, body, time.time()))
                action = receiver._next()
                if action == "slow":
                    time.sleep(SLOW_SECONDS)
                    action = 200
                self.send_response(int(action))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` requests, once they arrived (AssertionError at the deadline)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} requests in {timeout} s")
            return list(self.received[:count])

    def first_arrivals(self) -> list[Received]:
        """Each webhook-id once, in the order their first copies arrived (at least once)."""
        with self._changed:
            seen: dict[str, Received] = {}
            for request in self.received:
                seen.setdefault(request.headers.get("webhook-id", ""), request)
            return list(seen.values())

    def wait_for_distinct(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first arrivals of `count` webhook-ids, once that many arrived."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.first_arrivals()) >= count, timeout):
                raise AssertionError(f"{len(self.first_arrivals())} of {count} ids in {timeout} s")
        return self.first_arrivals()[:count]

    def wait_for_ids(self, ids: set[str], timeout: float = 30.0) -> list[Received]:
        """First arrivals, once every id in `ids` arrived (AssertionError at the deadline)."""
        with self._changed:
            arrived = lambda: ids <= {r.headers.get("webhook-id") for r in self.received}  # noqa: E731
            if not self._changed.wait_for(arrived, timeout):
                raise AssertionError(f"not every expected webhook-id arrived in {timeout} s")
        return self.first_arrivals()

    def _record(self, request: Received) -> None:
        with self._changed:
            self.received.append(request)
            self._changed.notify_all()

    def _next(self) -> int | str:
        with self._changed:
            return self.script.pop(0) if self.script else 200
