"""Webhook delivery latency: an event's commit -> the receiver got its POST.

Real processes, started as an operator starts them (tests/live_stack.py):
- embedded: one `hexbank serve` (SQLite; the feed follower, the delivery loop and the
  in-process delivery queue in the server);
- distributed: one `hexbank serve` and two `hexbank worker`s on PostgreSQL + Redis (the
  followers and delivery loops in the workers, deliveries as rq jobs on their delivery threads).

USERS users each register one webhook for `account.deposited` on a local receiver (a threaded
http.server, tests/webhook_receiver.py). Deposits are offered open loop at RATE_PER_S (spread
over the users' accounts, from a few client threads); each makes one event and one delivery.
Latency = the receiver's clock when the request arrived - the payload's `timestamp` (the
event's occurred_at, stamped just before its commit, so the figure slightly overstates).
Clients, servers and receiver share the machine's clock. Deliveries are at least once; the
first arrival of each event id counts.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bench.bench_push import _percentile, _wait
from bench.services import deployment, distributed_services
from tests.integration_services import delete_prefixed_keys, temporary_schema, unique_name
from tests.live_stack import Client, User
from tests.webhook_receiver import Receiver

USERS, CLIENT_THREADS = 10, 8
RATE_PER_S = 100.0
WARMUP_EVENTS, EVENTS, REPETITIONS = 100, 500, 3
ENV = {"HEXBANK_LOG_LEVEL": "WARNING", "HEXBANK_ACCESS_TOKEN_TTL": "3600"}


def _setup(url: str, receiver: Receiver) -> list[tuple[User, str]]:
    client = Client(url)

    def one(_: int) -> tuple[User, str]:
        user = client.register()
        account = client.open_account(user)
        body = {"url": receiver.url, "event_types": ["account.deposited"]}
        client.expect(201, "POST", "/webhooks", user, json=body)
        return user, account

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(USERS)))


def _latencies(receiver: Receiver, since: int) -> dict[str, float]:
    """Per event id, ms from its timestamp to its first arrival (requests after `since`)."""
    found: dict[str, float] = {}
    for request in receiver.received[since:]:
        event_id = request.headers["webhook-id"]
        if event_id not in found:
            stamp = json.loads(request.body)["timestamp"].replace("Z", "+00:00")
            found[event_id] = (request.at - datetime.fromisoformat(stamp).timestamp()) * 1000
    return found


def _offer(url: str, users: list[tuple[User, str]], receiver: Receiver, count: int) -> list[float]:
    """`count` deposits at RATE_PER_S (open loop), then the latencies of their deliveries."""
    since = len(receiver.received)
    client = Client(url)
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        for n in range(count):
            time.sleep(max(0.0, started + n / RATE_PER_S - time.monotonic()))
            user, account = users[n % USERS]
            path = f"/accounts/{account}/deposits"
            pool.submit(client.expect, 201, "POST", path, user, json={"amount": 1})
    if not _wait(lambda: len(_latencies(receiver, since)) >= count):
        print(f"bench_webhooks: {count - len(_latencies(receiver, since))} deliveries missing")
    return list(_latencies(receiver, since).values())


def _measure(url: str) -> tuple[float, float]:
    """Median over repetitions of (p50, p99) in ms."""
    receiver = Receiver()
    try:
        users = _setup(url, receiver)
        _offer(url, users, receiver, WARMUP_EVENTS)
        p50s, p99s = [], []
        for _ in range(REPETITIONS):
            latencies = _offer(url, users, receiver, EVENTS)
            p50s.append(_percentile(latencies, 0.50))
            p99s.append(_percentile(latencies, 0.99))
    finally:
        receiver.stop()
    return statistics.median(p50s), statistics.median(p99s)


def _embedded() -> dict[str, float]:
    with deployment(ENV) as stack:
        p50, p99 = _measure(stack.serve().url)
    return {"webhooks.delivery_p50_ms": p50, "webhooks.delivery_p99_ms": p99}


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
                stack.worker(f"worker{n}")
            p50, p99 = _measure(stack.serve().url)
    finally:
        delete_prefixed_keys(redis_url, prefix)
    return {
        "webhooks.distributed.delivery_p50_ms": p50,
        "webhooks.distributed.delivery_p99_ms": p99,
    }


def run() -> dict[str, float]:
    """Delivery latency p50/p99 at RATE_PER_S events/s: embedded (`webhooks.delivery_*`) and,
    when PostgreSQL and Redis answer, distributed."""
    figures = _embedded()
    print(f"bench_webhooks: {figures}")
    services = distributed_services("bench_webhooks")
    if services is not None:
        figures.update(_distributed(*services))
    return figures


if __name__ == "__main__":
    print(run())
