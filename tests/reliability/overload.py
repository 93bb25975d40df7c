"""Offering transfers to a live hexbank open loop, and reading how they ended: shared by R18
(tests/reliability/test_overload.py) and the transfer benchmark's overload figure."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import requests
from sqlalchemy import select

from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from tests.live_stack import Client, User, wait_for
from tests.reliability.audit import query

SENDERS, USERS = 24, 4
REFUSED = (429, 503)
#: Status and failure reason of each transfer that ended, by id.
Outcome = dict[str, tuple[str, str | None]]


@dataclass
class Offered:
    """What the senders were answered."""

    accepted: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Seconds from the first request to the last answer.
    elapsed: float = 0.0
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: requests.Response | None) -> None:
        with self.lock:
            if response is None:
                self.violations.append("no answer (connection error or timeout)")
                return
            self.statuses[response.status_code] += 1
            if response.status_code == 202:
                self.accepted.add(response.json()["id"])
            elif response.status_code not in REFUSED or "Retry-After" not in response.headers:
                self.violations.append(f"{response.status_code}: {response.text[:200]}")


@dataclass
class Bank:
    """Users with one well-funded account each; transfer n goes from user n to user n+1."""

    url: str
    users: list[tuple[User, str]]

    def send(self, client: Client, n: int, into: Offered) -> None:
        count = len(self.users)
        (user, source), (_, target) = self.users[n % count], self.users[(n + 1) % count]
        body = {"source_account_id": source, "target_account_id": target, "amount": 1}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        try:
            response = client.call("POST", "/transfers", user, json=body, headers=headers)
        except requests.RequestException:
            response = None
        into.record(response)


def open_bank(url: str) -> Bank:
    client = Client(url)
    users = []
    for _ in range(USERS):
        user = client.register()
        users.append((user, client.open_account(user, deposit=10**9)))
    return Bank(url, users)


def offer(bank: Bank, count: int, rate: float | None) -> Offered:
    """`count` transfers from SENDERS threads, open loop at `rate` per second (None: at once)."""
    offered, lock, numbers = Offered(), threading.Lock(), iter(range(count))
    start = time.monotonic() + 0.1

    def sender() -> None:
        client = Client(bank.url)
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            if rate is not None:  # on schedule, however long earlier answers took
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
            bank.send(client, n, offered)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    offered.elapsed = time.monotonic() - start
    return offered


def ended(url: str, transfer_ids: set[str]) -> Outcome:
    """Status and failure reason of each of `transfer_ids` that ended."""
    table = LIVE.transfers
    rows = query(url, select(table.c.transfer_id, table.c.status, table.c.failure_reason))
    return {t: (s, r) for t, s, r in rows if t in transfer_ids and s != "pending"}


def settle(url: str, transfer_ids: set[str], timeout: float) -> Outcome:
    """How each of `transfer_ids` ended, once all did (or fail after `timeout`)."""
    outcome: Outcome = {}

    def all_ended() -> bool:
        outcome.update(ended(url, transfer_ids))
        return len(outcome) == len(transfer_ids)

    wait_for(all_ended, timeout, "every accepted transfer to end")
    return outcome


def capacity(url: str, burst: set[str], timeout: float) -> float:
    """Transfers ended per second while the burst's backlog waited: from the first end of the
    burst to its last, the queue was never empty."""
    settle(url, burst, timeout)
    times = sorted(
        datetime.fromisoformat(str(at)) if not isinstance(at, datetime) else at
        for at, stream in query(
            url,
            select(events.c.occurred_at, events.c.stream_id).where(
                events.c.type.in_(("TransferCompleted", "TransferFailed"))
            ),
        )
        if stream in burst
    )
    span = (times[-1] - times[0]).total_seconds()
    assert span > 0, "the burst ended in no time: measure with a larger one"
    return (len(times) - 1) / span
