"""Transfers end to end through real processes: throughput, and latency at a steady load.

- `transfers.<mode>.per_s`: completed transfers per second, HTTP in to completion observed:
  CLIENTS closed-loop clients each send a transfer (202), wait for its completion to be
  pushed on the WebSocket, and send the next, for THROUGHPUT_SECONDS.
- `transfers.<mode>.p50_ms` / `.p99_ms`: 202 received -> `transfer.updated` with status
  `completed` received, at an offered (open-loop, paced) load of RATE_PER_S transfers/s.

embedded = one `hexbank serve` (SQLite, in-process queue); distributed = one `hexbank serve`
plus two `hexbank worker` processes on PostgreSQL and Redis. The servers are started here, on
loopback, through tests/live_stack.py; every count and duration is bounded. Each figure is the
median of REPETITIONS runs after a warm-up.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.services import deployment, distributed_services
from tests.e2e.bank_workers import LISTENING
from tests.integration_services import (
    delete_prefixed_keys,
    temporary_schema,
    unique_name,
)
from tests.live_stack import Client, User, wait_for

USERS, CLIENTS = 16, 24
THROUGHPUT_SECONDS, WARMUP_SECONDS = 5.0, 2.0
RATE_PER_S, LATENCY_TRANSFERS, SENDERS = 100.0, 200, 16
#: A light load, printed beside the figures: the latency of the saga itself, without queueing.
LIGHT_RATE_PER_S, LIGHT_TRANSFERS = 2.0, 20
REPETITIONS = 3
COMPLETION_TIMEOUT = 90.0
#: BENCHMARKS.md: figure kind -> (comparison, goal per mode).
GOALS: dict[str, tuple[str, dict[str, float]]] = {
    "per_s": (">=", {"embedded": 300.0, "distributed": 300.0}),
    "p99_ms": ("<=", {"embedded": 100.0, "distributed": 250.0}),
}
ENV = {"HEXBANK_LOG_LEVEL": "WARNING"}


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

    def send(self, client: Client, n: int) -> tuple[str, float]:
        """Transfer 1 cent from user n to user n+1: (transfer id, time the 202 arrived)."""
        (user, source), (_, target) = self.users[n % USERS], self.users[(n + 1) % USERS]
        transfer = client.transfer(user, source, target, 1)
        return transfer["id"], time.time()


def _open_bank(url: str) -> Bank:
    def user(_: int) -> tuple[User, str]:
        client = Client(url)
        someone = client.register()  # argon2: slow on purpose, so overlap them
        return someone, client.open_account(someone, deposit=10**9)

    with ThreadPoolExecutor(4) as pool:
        users = list(pool.map(user, range(USERS)))
    ws_url = url.replace("http://", "ws://", 1) + "/api/v1/ws"
    return Bank(url, users, Completions().open(ws_url, [u.access_token for u, _ in users]))


def throughput(bank: Bank, seconds: float) -> float:
    """Completed transfers per second with CLIENTS closed-loop clients."""
    started = time.time()
    stop_at = started + seconds

    def client_loop(offset: int) -> tuple[int, float]:
        client, done, n = Client(bank.url), 0, offset
        while time.time() < stop_at:
            transfer_id, _ = bank.send(client, n)
            done += bank.completions.wait(transfer_id) == "completed"
            n += CLIENTS
        return done, time.time()

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client_loop, range(CLIENTS)))
    return sum(done for done, _ in results) / (max(end for _, end in results) - started)


def latencies_ms(bank: Bank, count: int, rate: float) -> list[float]:
    """202 -> completion pushed, for `count` transfers offered at `rate` per second."""
    start = time.monotonic() + 0.1
    local = threading.local()

    def paced(n: int) -> tuple[str, float]:
        time.sleep(max(0.0, start + n / rate - time.monotonic()))  # open loop: on schedule
        if not hasattr(local, "client"):
            local.client = Client(bank.url)
        return bank.send(local.client, n)

    with ThreadPoolExecutor(SENDERS) as pool:
        accepted = list(pool.map(paced, range(count)))
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(mode: str, bank: Bank) -> dict[str, float]:
    """Warm-up, then the median over REPETITIONS of each figure."""
    throughput(bank, WARMUP_SECONDS)
    latencies_ms(bank, 50, RATE_PER_S)
    rates, p50s, p99s = [], [], []
    for _ in range(REPETITIONS):
        settle(bank)
        rates.append(throughput(bank, THROUGHPUT_SECONDS))
        settle(bank)
        samples = latencies_ms(bank, LATENCY_TRANSFERS, RATE_PER_S)
        p50s.append(_percentile(samples, 0.50))
        p99s.append(_percentile(samples, 0.99))
        figures = f"{rates[-1]:.0f}/s, p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms"
        print(f"bench_transfers: {mode}: {figures}")
    settle(bank)
    light = latencies_ms(bank, LIGHT_TRANSFERS, LIGHT_RATE_PER_S)
    p50, p99 = _percentile(light, 0.5), _percentile(light, 0.99)
    print(f"bench_transfers: {mode} at {LIGHT_RATE_PER_S:g}/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    prefix = f"transfers.{mode}"
    return {
        f"{prefix}.per_s": statistics.median(rates),
        f"{prefix}.p50_ms": statistics.median(p50s),
        f"{prefix}.p99_ms": statistics.median(p99s),
    }


# --- deployments ---------------------------------------------------------------------------------


def _with_bank(url: str, body: Callable[[Bank], dict[str, float]]) -> dict[str, float]:
    bank = _open_bank(url)
    try:
        return body(bank)
    finally:
        bank.completions.close()


def _embedded() -> dict[str, float]:
    with deployment(ENV) as stack:
        return _with_bank(stack.serve().url, lambda bank: measure("embedded", bank))


def _distributed(database_url: str, redis_url: str) -> dict[str, float]:
    prefix = unique_name("bench") + ":"
    try:
        with (
            temporary_schema(database_url) as schema_url,
            deployment(
                ENV, database_url=schema_url, redis_url=redis_url, redis_prefix=prefix
            ) as stack,
        ):
            workers = [stack.worker(f"worker{n}") for n in (1, 2)]
            url = stack.serve().url
            wait_for(lambda: all(LISTENING in w.log() for w in workers), 60, "the rq workers")
            return _with_bank(url, lambda bank: measure("distributed", bank))
    finally:
        delete_prefixed_keys(redis_url, prefix)


def print_goals(figures: dict[str, float]) -> None:
    """The figures beside their goals (BENCHMARKS.md)."""
    print("\n  figure                          value      goal")
    for name, value in sorted(figures.items()):
        _, mode, kind = name.split(".")
        goal = ""
        if kind in GOALS:
            op, bounds = GOALS[kind]
            bound = bounds[mode]
            met = value >= bound if op == ">=" else value <= bound
            goal = f"{op} {bound:g}  {'met' if met else 'MISSED'}"
        print(f"  {name:<28} {value:>9.1f}   {goal}")


def run() -> dict[str, float]:
    """Throughput and latency, embedded and (when PostgreSQL and Redis answer) distributed."""
    figures = _embedded()
    print_goals(figures)  # kept in the output should the distributed run fail
    services = distributed_services("bench_transfers")
    if services is not None:
        figures.update(_distributed(*services))
    print_goals(figures)
    return figures


if __name__ == "__main__":
    run()
