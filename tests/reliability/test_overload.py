"""R18: overload. Transfers offered at twice the measured capacity: the excess is refused at
the door (503 or 429 with Retry-After), and every transfer that was accepted (202) completes;
none ends `timed_out`.

Capacity is the rate at which transfers end while a backlog waits (a burst, timed from the
terminal events' own timestamps), so the client's speed does not enter it. Bounded here
(OVERLOAD_SECONDS); `make soak` offers the overload for 60 s.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import requests
from sqlalchemy import select

from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from tests.e2e.bank_workers import LISTENING
from tests.live_stack import Client, Stack, User, wait_for
from tests.reliability.audit import database_url, query
from tests.reliability.stacks import soak_seconds

pytestmark = pytest.mark.e2e

#: The transfer timeout of the stack: admission lets the backlog take half of it.
TIMEOUT_SECONDS = 16
BURST, SENDERS, USERS = 200, 24, 4
OVERLOAD_SECONDS, SOAK_OVERLOAD_SECONDS = 16.0, 60.0
#: Every accepted transfer ends within the timeout (the sweeper's period on top).
SETTLE_SECONDS = TIMEOUT_SECONDS + 30
REFUSED = (429, 503)


@dataclass
class Offered:
    """What the senders were answered."""

    accepted: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
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
        (user, source), (_, target) = self.users[n % USERS], self.users[(n + 1) % USERS]
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
    return offered


def ended(url: str, transfer_ids: set[str]) -> dict[str, tuple[str, str | None]]:
    """Status and failure reason of each of `transfer_ids` that ended."""
    table = LIVE.transfers
    rows = query(url, select(table.c.transfer_id, table.c.status, table.c.failure_reason))
    return {t: (s, r) for t, s, r in rows if t in transfer_ids and s != "pending"}


def settle(url: str, transfer_ids: set[str]) -> dict[str, tuple[str, str | None]]:
    outcome: dict[str, tuple[str, str | None]] = {}

    def all_ended() -> bool:
        outcome.update(ended(url, transfer_ids))
        return len(outcome) == len(transfer_ids)

    wait_for(all_ended, SETTLE_SECONDS, "every accepted transfer to end")
    return outcome


def capacity(url: str, burst: set[str]) -> float:
    """Transfers ended per second while the burst's backlog waited: from the first end of the
    burst to its last, the queue was never empty."""
    settle(url, burst)
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


def check_overload(stack: Stack, bank: Bank) -> None:
    url = database_url(stack)
    burst = offer(bank, BURST, rate=None)
    rate = 2 * capacity(url, burst.accepted)
    seconds = SOAK_OVERLOAD_SECONDS if soak_seconds() else OVERLOAD_SECONDS
    offered = offer(bank, int(rate * seconds), rate)
    outcome = settle(url, offered.accepted)
    print(f"R18: capacity {rate / 2:.1f}/s, offered {rate:.1f}/s for {seconds:g} s: "
          f"{dict(offered.statuses)}; ended {Counter(outcome.values())}")  # fmt: skip
    assert offered.violations == [], offered.violations[:5]
    assert sum(offered.statuses[s] for s in REFUSED) > 0, "nothing refused at twice capacity"
    assert offered.accepted, "nothing accepted"
    assert set(outcome.values()) == {("completed", None)}, Counter(outcome.values())


def test_embedded_overload_is_refused_at_the_door_and_accepted_work_completes(
    embedded: Stack,
) -> None:
    embedded.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = str(TIMEOUT_SECONDS)
    web = embedded.serve()
    check_overload(embedded, open_bank(web.url))


@pytest.mark.postgres
@pytest.mark.redis
def test_distributed_overload_is_refused_at_the_door_and_accepted_work_completes(
    distributed: Stack,
) -> None:
    distributed.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = str(TIMEOUT_SECONDS)
    web = distributed.serve()
    workers = [distributed.worker(f"worker-{n}") for n in (1, 2)]
    bank = open_bank(web.url)
    wait_for(lambda: all(LISTENING in w.log() for w in workers), 60, "the rq workers")
    check_overload(distributed, bank)
