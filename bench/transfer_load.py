"""The transfer benchmark's load: users with funded accounts, their WebSockets recording
when each transfer ended, closed-loop clients (hexbank and the plain baseline), and a paced
open-loop sender for latency."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.live_stack import Client, User

USERS, CLIENTS = 16, 24
COMPLETION_TIMEOUT = 90.0
SENDERS = 16


# --- observing completions -----------------------------------------------------------------------


@dataclass
class Completions:
    """One WebSocket per user, each read by a thread, recording when each transfer's end
    (completed or failed) was first pushed."""

    ended: dict[str, tuple[float, str]] = field(default_factory=dict)
    _events: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: list[ClientConnection] = field(default_factory=list)

    def open(self, ws_url: str, tokens: list[str]) -> Completions:
        for token in tokens:
            ws = connect(ws_url, max_size=None)
            ws.send(json.dumps({"type": "auth", "access_token": token}))
            assert json.loads(ws.recv(10)) == {"type": "ready"}
            self._sockets.append(ws)
            threading.Thread(target=self._read, args=(ws,), daemon=True).start()
        return self

    def close(self) -> None:
        for ws in self._sockets:
            ws.close()

    def wait(self, transfer_id: str, timeout: float = COMPLETION_TIMEOUT) -> str:
        """The transfer's final status, once pushed."""
        if not self._event(transfer_id).wait(timeout):
            raise TimeoutError(f"transfer {transfer_id} did not end within {timeout} s")
        return self.ended[transfer_id][1]

    def _event(self, transfer_id: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(transfer_id, threading.Event())

    def _read(self, ws: ClientConnection) -> None:
        try:
            for raw in ws:
                received = time.time()
                message = json.loads(raw)
                if message["type"] == "transfer.updated":
                    self._record(message["data"], received)
        except ConnectionClosed:
            return

    def _record(self, transfer: dict[str, Any], received: float) -> None:
        if transfer["status"] == "pending":
            return
        with self._lock:
            if transfer["id"] in self.ended:  # both users' sockets hear of it: keep the first
                return
            self.ended[transfer["id"]] = (received, transfer["status"])
        self._event(transfer["id"]).set()


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Bank:
    """Users, each with one account holding plenty of money, and their sockets."""

    url: str
    users: list[tuple[User, str]]
    completions: Completions

    def pair(self, n: int) -> tuple[tuple[User, str], tuple[User, str]]:
        """Transfer n goes from user n to user n+1."""
        return self.users[n % len(self.users)], self.users[(n + 1) % len(self.users)]

    def send(self, client: Client, n: int) -> tuple[str, float]:
        """Transfer 1 cent from user n to user n+1: (transfer id, time the 202 arrived)."""
        (user, source), (_, target) = self.pair(n)
        transfer = client.transfer(user, source, target, 1)
        return transfer["id"], time.time()

    def offer(self, client: Client, n: int) -> tuple[str, float] | None:
        """`send`, or None when the transfer is refused at the door (503 + Retry-After)."""
        (user, source), (_, target) = self.pair(n)
        body = {"source_account_id": source, "target_account_id": target, "amount": 1}
        response = client.call("POST", "/transfers", user, json=body)
        if response.status_code == 503 and "Retry-After" in response.headers:
            return None
        assert response.status_code == 202, (response.status_code, response.text)
        return response.json()["id"], time.time()


def open_bank(url: str) -> Bank:
    """USERS users with one account of 10^9 each, and a WebSocket per user."""

    def user(_: int) -> tuple[User, str]:
        client = Client(url)
        someone = client.register()  # argon2: slow on purpose, so overlap them
        return someone, client.open_account(someone, deposit=10**9)

    with ThreadPoolExecutor(4) as pool:
        users = list(pool.map(user, range(USERS)))
    ws_url = url.replace("http://", "ws://", 1) + "/api/v1/ws"
    return Bank(url, users, Completions().open(ws_url, [u.access_token for u, _ in users]))


#: One closed-loop client's transfer number n, sent to and finished on one server: True when
#: it completed.
Transfer = Callable[[Client, int], bool]


def closed_loop(url: str, transfer: Transfer, seconds: float) -> tuple[int, float]:
    """CLIENTS clients, each sending its next transfer once the previous ended, for `seconds`:
    (transfers completed, seconds elapsed)."""
    started = time.time()
    stop_at = started + seconds

    def client_loop(offset: int) -> tuple[int, float]:
        client, done, n = Client(url), 0, offset
        while time.time() < stop_at:
            done += transfer(client, n)
            n += CLIENTS
        return done, time.time()

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client_loop, range(CLIENTS)))
    return sum(done for done, _ in results), max(end for _, end in results) - started


def hexbank_transfer(bank: Bank) -> Transfer:
    """202, then the completion pushed on the WebSocket."""

    def transfer(client: Client, n: int) -> bool:
        transfer_id, _ = bank.send(client, n)
        return bank.completions.wait(transfer_id) == "completed"

    return transfer


def plain_transfer(bank: Bank) -> Transfer:
    """The baseline answers 201 once the money moved: the same body, token and accounts."""

    def transfer(client: Client, n: int) -> bool:
        (user, source), (_, target) = bank.pair(n)
        body = {"source_account_id": source, "target_account_id": target, "amount": 1}
        response = client.call("POST", "/transfers", user, json=body)
        assert response.status_code == 201, (response.status_code, response.text)
        return True

    return transfer


def latencies_ms(bank: Bank, count: int, rate: float) -> list[float]:
    """202 -> completion pushed, for `count` transfers offered at `rate` per second."""
    start = time.monotonic() + 0.1
    local = threading.local()

    def paced(n: int) -> tuple[str, float] | None:
        time.sleep(max(0.0, start + n / rate - time.monotonic()))  # open loop: on schedule
        if not hasattr(local, "client"):
            local.client = Client(bank.url)
        return bank.offer(local.client, n)

    with ThreadPoolExecutor(SENDERS) as pool:
        answered = list(pool.map(paced, range(count)))
    accepted = [a for a in answered if a is not None]
    if len(accepted) < count:
        print(f"bench_transfers: {count - len(accepted)} of {count} refused at the door")
        count = len(accepted)
    result = []
    for transfer_id, at in accepted:
        if bank.completions.wait(transfer_id) == "completed":
            result.append((bank.completions.ended[transfer_id][0] - at) * 1000)
    if len(result) < count:
        print(f"bench_transfers: {count - len(result)} of {count} transfers did not complete")
    return result


def settle(bank: Bank, timeout: float = 180.0) -> None:
    """Wait until the job queue is empty (`hexbank_job_queue_depth` on the web's /metrics):
    each phase starts from a drained system, not behind the backlog an overload left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = requests.get(f"{bank.url}/metrics", timeout=10).text
        depth = next(
            (line.split()[-1] for line in text.splitlines()
             if line.startswith("hexbank_job_queue_depth ")),
            "0",
        )  # fmt: skip
        if float(depth) == 0:
            return
        time.sleep(0.2)
    print(f"bench_transfers: the queue did not drain within {timeout:g} s")
