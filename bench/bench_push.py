"""Push latency: commit of a transfer's completing event -> `transfer.updated` received.

Real processes, started as an operator starts them (tests/live_stack.py):
- embedded: one `hexbank serve` (SQLite, in-process queue, in-memory push channel);
- distributed: two `hexbank serve` and two `hexbank worker`s on PostgreSQL + Redis. Each
  user has half of their sockets on each web process and transfers are requested through
  both, so every push goes worker -> Redis pub/sub -> both web processes.

200 sockets stay open (50 users, four sockets each) while transfers between pairs of users
are offered at up to RATE_PER_S with at most IN_FLIGHT undelivered; each completion reaches
eight sockets. Open sockets hold no thread (the web process's socket loop serves them all,
docs/websockets.md); HEXBANK_WS_SOCKETS=200 only caps them.

Latency per socket = receive time - the transfer's `completed_at` (the one GET
/transfers/{id} returns): the occurred_at of TransferCompleted, stamped just before its
commit, so the figure slightly overstates. Clients and servers share the machine's clock.
Pushes are at least once (a transfer's later events, relayed after the job that ran its whole
saga, announce the completed state again): each socket's first completion message counts.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

from websockets.asyncio.client import ClientConnection, connect

from bench.services import deployment, distributed_services, in_parallel
from tests.integration_services import (
    delete_prefixed_keys,
    temporary_schema,
    unique_name,
)
from tests.live_stack import Client, User

USERS, SOCKETS_PER_USER = 50, 4
WARMUP_TRANSFERS, TRANSFERS, REPETITIONS = 20, 100, 3
RATE_PER_S, IN_FLIGHT = 20.0, 4
ENV = {
    "HEXBANK_WS_SOCKETS": str(USERS * SOCKETS_PER_USER),
    "HEXBANK_LOG_LEVEL": "WARNING",
    "HEXBANK_ACCESS_TOKEN_TTL": "3600",  # the sockets outlive the default 15 minutes
}


# --- clients -------------------------------------------------------------------------------------


def _user(client: Client) -> tuple[User, str]:
    """A new user and their account, holding plenty of money."""
    user = client.register()
    return user, client.open_account(user, deposit=10**9)


def _users(urls: list[str]) -> list[tuple[User, str]]:
    # Registering hashes a password (argon2, ~0.4 s): overlap them across the servers' threads.
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda n: _user(Client(urls[n % len(urls)])), range(USERS)))


class Listener:
    """The sockets on one asyncio loop (its own thread), recording completion latencies."""

    def __init__(self, ws_urls: list[str], tokens: list[str]) -> None:
        #: Per transfer, one latency per socket that got its completion, in ms.
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        sockets = [(ws_urls[n % len(ws_urls)], t) for t in tokens for n in range(SOCKETS_PER_USER)]
        self._thread = threading.Thread(target=self._run, args=(sockets,), daemon=True)
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("sockets did not open")

    def delivered(self, transfer_id: str) -> bool:
        """Whether every socket of both users got the transfer's completion."""
        return len(self.latencies.get(transfer_id, ())) >= 2 * SOCKETS_PER_USER

    def _run(self, sockets: list[tuple[str, str]]) -> None:
        self._loop.run_until_complete(self._main(sockets))

    async def _main(self, sockets: list[tuple[str, str]]) -> None:
        self._stop = asyncio.Event()
        opened = [await self._open(url, token) for url, token in sockets]
        readers = [asyncio.create_task(self._read(ws)) for ws in opened]
        self._ready.set()
        await self._stop.wait()
        for reader in readers:
            reader.cancel()
        for ws in opened:
            await ws.close()

    async def _open(self, url: str, token: str) -> ClientConnection:
        ws = await connect(url, ping_interval=None, max_queue=None)
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        assert json.loads(await ws.recv()) == {"type": "ready"}
        return ws

    async def _read(self, ws: ClientConnection) -> None:
        told: set[str] = set()  # transfers whose completion this socket already got
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            data = message["data"]
            if message["type"] != "transfer.updated" or data["status"] != "completed":
                continue
            if data["id"] not in told:
                told.add(data["id"])
                completed = datetime.fromisoformat(data["completed_at"].replace("Z", "+00:00"))
                self.latencies[data["id"]].append((received - completed.timestamp()) * 1000)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _offer(
    urls: list[str], users: list[tuple[User, str]], count: int, listener: Listener
) -> list[float]:
    """Latencies of `count` transfers offered at RATE_PER_S with at most IN_FLIGHT pending.

    The cap keeps the saga's queue short, so that the figure is the push path's and not
    the time a completion waited behind a backlog of other jobs.
    """
    offered: list[str] = []
    for n in range(count):
        started = time.monotonic()
        _wait(lambda: sum(not listener.delivered(t) for t in offered) < IN_FLIGHT)
        (user, source), (_, target) = users[n % USERS], users[(n + 1) % USERS]
        offered.append(Client(urls[n % len(urls)]).transfer(user, source, target, 1)["id"])
        time.sleep(max(0.0, 1 / RATE_PER_S - (time.monotonic() - started)))
    if not _wait(lambda: all(listener.delivered(t) for t in offered)):
        print("bench_push: some pushes never arrived")
    return [ms for transfer_id in offered for ms in listener.latencies[transfer_id]]


def _wait(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(urls: list[str]) -> tuple[float, float]:
    """Median over repetitions of (p50, p99) in ms."""
    users = _users(urls)
    ws_urls = [url.replace("http://", "ws://", 1) + "/api/v1/ws" for url in urls]
    listener = Listener(ws_urls, [user.access_token for user, _ in users])
    try:
        _offer(urls, users, WARMUP_TRANSFERS, listener)
        p50s, p99s = [], []
        for _ in range(REPETITIONS):
            latencies = _offer(urls, users, TRANSFERS, listener)
            p50s.append(_percentile(latencies, 0.50))
            p99s.append(_percentile(latencies, 0.99))
    finally:
        listener.close()
    return statistics.median(p50s), statistics.median(p99s)


# --- deployments ---------------------------------------------------------------------------------


def _embedded() -> dict[str, float]:
    with deployment(ENV) as stack:
        p50, p99 = _measure([stack.serve().url])
    return {"push.embedded.p50_ms": p50, "push.embedded.p99_ms": p99}


def _distributed(database_url: str, redis_url: str) -> dict[str, float]:
    prefix = unique_name("bench") + ":"
    try:
        with (
            temporary_schema(database_url) as schema_url,
            deployment(
                ENV, database_url=schema_url, redis_url=redis_url, redis_prefix=prefix
            ) as stack,
        ):
            for n in (1, 2):
                stack.worker(f"worker{n}")  # starts while the web processes do
            webs = in_parallel([partial(stack.serve, f"web{n}") for n in (1, 2)])
            p50, p99 = _measure([web.url for web in webs])
    finally:
        delete_prefixed_keys(redis_url, prefix)
    return {"push.distributed.p50_ms": p50, "push.distributed.p99_ms": p99}


def run() -> dict[str, float]:
    """Push latency p50/p99, embedded and (when PostgreSQL and Redis answer) distributed."""
    figures = _embedded()
    print(f"bench_push: {figures}")  # kept in the output should the distributed run fail
    services = distributed_services("bench_push")
    if services is not None:
        figures.update(_distributed(*services))
    return figures


if __name__ == "__main__":
    print(run())
