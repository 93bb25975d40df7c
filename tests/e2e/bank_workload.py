"""The Jepsen-style *bank* workload over the HTTP API of live hexbank processes.

A small bank (users, accounts across users, one in another currency, one closed) receives
random concurrent transfers, some of which must fail, while a sampler reads balances and checks
the mid-flight invariants (RELIABILITY.md R1). The books at quiescence: tests/e2e/bank_audit.py.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.live_stack import Client, User

DEPOSIT = {"EUR": 50_000, "USD": 5_000}
#: Planned transfers whose outcome is decided by the saga, with the failure they must end in.
INSUFFICIENT, UNKNOWN, CLOSED, CURRENCY = (
    "insufficient_funds",
    "target_account_not_found",
    "target_account_closed",
    "currency_mismatch",
)
TERMINAL = ("completed", "failed")
#: Seconds between two rounds of balance reads.
SAMPLE_EVERY = 0.1


@dataclass(frozen=True)
class BankAccount:
    """An account of the bank under test and what was deposited on it at setup."""

    id: str
    owner: User
    currency: str
    deposit: int
    closed: bool = False


@dataclass(frozen=True)
class PlannedTransfer:
    """One transfer to send; `must_fail` is the failure reason it must end in, if any."""

    owner: User = field(repr=False)
    source: str
    target: str
    amount: int
    must_fail: str | None = None


@dataclass
class Bank:
    """Users and accounts on one live deployment."""

    base_url: str
    users: list[User]
    accounts: list[BankAccount]

    def client(self) -> Client:
        return Client(self.base_url)

    @property
    def open_accounts(self) -> list[BankAccount]:
        return [account for account in self.accounts if not account.closed]

    def owner_of(self, account_id: str) -> User:
        return next(account.owner for account in self.accounts if account.id == account_id)


def open_bank(base_url: str) -> Bank:
    """3 users; 7 accounts: 5 open EUR across users, 1 USD, 1 closed EUR (all deposits here)."""
    client = Client(base_url)
    alice, bob, carol = (client.register() for _ in range(3))
    layout = [(alice, "EUR"), (alice, "EUR"), (alice, "USD"), (bob, "EUR"), (bob, "EUR")]
    layout.append((carol, "EUR"))
    accounts = [
        BankAccount(client.open_account(user, currency, DEPOSIT[currency]), user, currency, 0)
        for user, currency in layout
    ]
    accounts = [BankAccount(a.id, a.owner, a.currency, DEPOSIT[a.currency]) for a in accounts]
    closed = client.open_account(carol, "EUR")
    client.expect(200, "POST", f"/accounts/{closed}/close", carol)
    accounts.append(BankAccount(closed, carol, "EUR", 0, closed=True))
    return Bank(base_url, [alice, bob, carol], accounts)


def plan_transfers(bank: Bank, count: int, rng: random.Random) -> list[PlannedTransfer]:
    """`count` transfers: about 1 in 4 built to fail (one of each kind in turn), the rest
    random amounts between open EUR accounts of any users (some run out of money)."""
    eur = [a for a in bank.open_accounts if a.currency == "EUR"]
    usd = next(a for a in bank.accounts if a.currency == "USD")
    closed = next(a for a in bank.accounts if a.closed)
    planned = []
    for n in range(count):
        source = rng.choice(eur)
        target = rng.choice([a for a in eur if a.id != source.id])
        planned.append(_variant(n, source, target.id, rng, usd.id, closed.id))
    return planned


def _variant(
    n: int, source: BankAccount, target: str, rng: random.Random, usd: str, closed: str
) -> PlannedTransfer:
    amount = rng.randint(1, 2_500)
    small = rng.randint(1, 100)  # so that the hold (the first step) rarely fails first
    match n % 16:
        case 1:
            return PlannedTransfer(source.owner, source.id, target, 10**12, INSUFFICIENT)
        case 5:
            return PlannedTransfer(source.owner, source.id, str(uuid.uuid4()), small, UNKNOWN)
        case 9:
            return PlannedTransfer(source.owner, source.id, closed, small, CLOSED)
        case 13:
            return PlannedTransfer(source.owner, source.id, usd, small, CURRENCY)
    return PlannedTransfer(source.owner, source.id, target, amount)


@dataclass
class Submissions:
    """What the clients sent: accepted transfers by id, and requests whose outcome is unknown
    (the connection broke, e.g. the server was killed)."""

    accepted: dict[str, PlannedTransfer] = field(default_factory=dict)
    unanswered: int = 0
    #: Refused at the door with a Retry-After (e.g. the backlog would not finish in time).
    deferred: int = 0
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit_all(
    bank: Bank, planned: list[PlannedTransfer], clients: int = 8, tolerate_outage: bool = False
) -> Submissions:
    """Send every planned transfer from a pool of `clients` concurrent HTTP clients."""
    submissions = Submissions()
    local = threading.local()

    def send(item: PlannedTransfer) -> None:
        if not hasattr(local, "client"):
            local.client = bank.client()
        _send(local.client, item, submissions, tolerate_outage)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, planned))
    return submissions


#: How long a client keeps retrying a transfer refused at the door (`503` + `Retry-After`), as
#: the API asks of clients, before it counts it refused: a loaded machine may run the engine
#: slower than the clients send, and admission then defers some transfers for a while.
DEFERRAL_BUDGET_SECONDS = 120.0


def _send(client: Client, item: PlannedTransfer, into: Submissions, tolerate: bool) -> None:
    body: dict[str, object] = {"source_account_id": item.source, "target_account_id": item.target}
    body["amount"] = item.amount
    give_up_at = time.monotonic() + DEFERRAL_BUDGET_SECONDS
    try:
        response = client.call("POST", "/transfers", item.owner, json=body)
        while not tolerate and _deferred(response) and time.monotonic() < give_up_at:
            with into.lock:
                into.deferred += 1
            time.sleep(min(float(response.headers["Retry-After"]), 5.0))
            response = client.call("POST", "/transfers", item.owner, json=body)
    except requests.RequestException:
        if not tolerate:
            raise
        with into.lock:
            into.unanswered += 1
        return
    with into.lock:
        if response.status_code == 202:
            into.accepted[response.json()["id"]] = item
        elif tolerate and _deferred(response):
            into.deferred += 1
        elif not (tolerate and response.status_code >= 500):
            into.refused.append(f"{response.status_code} {response.text}")
        else:
            into.unanswered += 1


def _deferred(response: requests.Response) -> bool:
    """Refused at the door, to be sent again after `Retry-After`."""
    return response.status_code in (429, 503) and "Retry-After" in response.headers


class PacedLoad:
    """Background load for crash tests: `clients` threads send the planned transfers at about
    `rate` per second in all, until the plan runs out or the load is stopped; requests that a
    dead server never answers are counted, not failed."""

    def __init__(self, bank: Bank, planned: list[PlannedTransfer], clients: int, rate: float):
        self.bank, self.interval = bank, 1 / rate
        self.submissions = Submissions()
        self._plan, self._lock = iter(planned), threading.Lock()
        self._next_slot, self._stop = time.monotonic(), threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> PacedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.finish(timeout=60)

    def finish(self, timeout: float) -> None:
        """Wait until the plan is sent (or the load stopped)."""
        for thread in self._threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in self._threads), "load still running"

    def _run(self) -> None:
        client = self.bank.client()
        while (item := self._next()) is not None:
            _send(client, item, self.submissions, tolerate=True)

    def _next(self) -> PlannedTransfer | None:
        with self._lock:
            item = next(self._plan, None)
            slot = self._next_slot = max(self._next_slot + self.interval, time.monotonic())
        # Open-loop pacing: wait for this request's slot (stopping early if asked to).
        if item is None or self._stop.wait(max(0.0, slot - time.monotonic())):
            return None
        return item


class BalanceSampler:
    """Reads every account in a loop while transfers are in flight, recording any read that
    breaks the mid-flight invariants (RELIABILITY.md: no balance below 0, available ≤ balance)."""

    def __init__(self, bank: Bank, tolerate_outage: bool = False) -> None:
        self.bank, self.tolerate = bank, tolerate_outage
        self.samples, self.violations = 0, list[dict[str, Any]]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balance-sampler", daemon=True)

    def __enter__(self) -> BalanceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        client = self.bank.client()
        while not self._stop.is_set():
            for account in self.bank.accounts:
                self._sample(client, account)
            # A breath between rounds, so that reading does not starve the saga of CPU.
            self._stop.wait(SAMPLE_EVERY)

    def _sample(self, client: Client, account: BankAccount) -> None:
        try:
            response = client.call("GET", f"/accounts/{account.id}", account.owner)
        except requests.RequestException as error:
            if not self.tolerate:  # recorded: an exception would only end this thread
                self.violations.append({"error": repr(error)})
            return
        if response.status_code != 200:
            if not self.tolerate:
                self.violations.append({"status": response.status_code, "body": response.text})
            return
        seen = response.json()
        self.samples += 1
        balance, available = seen["balance"], seen["available_balance"]
        if balance < 0 or available < 0 or available > balance:
            self.violations.append(seen)
