"""Random concurrent bank clients of a live hexbank, in the manner of Jepsen's bank workload.

Each teller is one user sending transfers (to anyone's account), deposits, withdrawals and
reads through the HTTP API while faults happen. Every POST carries an Idempotency-Key and is
retried with that key through connection errors, 503s and 409 key-in-use until it gets a
definite answer or its retry window closes (then it is "ambiguous": it may or may not have
happened). Every deposit and withdrawal carries a unique reference, so the audit can tell
which attempt each transaction in the history came from.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.live_stack import Client, User

#: How long one POST is retried with its key before the client gives up on knowing.
RETRY_WINDOW_SECONDS = 12.0
RETRY_PAUSE_SECONDS = 0.2
RETRIABLE = {503, 409}  # 409: idempotency-key-in-use while a killed request's lease runs
START_BALANCE = 5_000


@dataclass
class Books:
    """What the clients were told (acknowledged) and what they tried, shared by all tellers."""

    deposits: dict[str, int] = field(default_factory=dict)
    withdrawals: dict[str, int] = field(default_factory=dict)
    attempted: dict[str, tuple[str, int]] = field(default_factory=dict)
    transfers: dict[str, int] = field(default_factory=dict)  # acknowledged id -> teller index
    statuses: Counter[int] = field(default_factory=Counter)
    ambiguous: int = 0
    reads: int = 0
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                target = getattr(self, name)
                if isinstance(target, dict):
                    target.update(value)
                elif isinstance(target, list):
                    target.append(value)
                else:
                    setattr(self, name, target + value)


@dataclass
class Bank:
    """The users and accounts of a run: `accounts[i]` belong to `users[i]`."""

    client: Client
    users: list[User]
    accounts: list[list[str]]

    @property
    def all_accounts(self) -> list[str]:
        return [account for owned in self.accounts for account in owned]


def open_bank(client: Client, books: Books, users: int = 4, per_user: int = 2) -> Bank:
    """Users with funded accounts; the opening deposits go into the books like any other."""
    bank = Bank(client, [], [])
    for _ in range(users):
        user = client.register()
        owned = [client.open_account(user) for _ in range(per_user)]
        for account in owned:
            reference = f"open-{uuid.uuid4().hex}"
            body = {"amount": START_BALANCE, "reference": reference}
            client.expect(201, "POST", f"/accounts/{account}/deposits", user, json=body)
            books.note(deposits={reference: START_BALANCE})
            books.note(attempted={reference: ("deposit", START_BALANCE)})
        bank.users.append(user)
        bank.accounts.append(owned)
    return bank


class Teller(threading.Thread):
    """One user's random operations until `stop` is set."""

    def __init__(self, bank: Bank, index: int, books: Books, stop: threading.Event, seed: int):
        super().__init__(name=f"teller-{index}", daemon=True)
        self.bank, self.index, self.books, self.stop_event = bank, index, books, stop
        self.rng = random.Random(seed)  # noqa: S311 (a seeded workload)
        self.client = Client(bank.client.base_url)
        self.error: BaseException | None = None

    @property
    def user(self) -> User:
        return self.bank.users[self.index]

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.step()
        except BaseException as error:  # re-raised by the test in its own thread
            self.error = error

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.5:
            self.transfer()
        elif roll < 0.6:
            self.move("deposits", "deposit", self.rng.randint(1, 1_000))
        elif roll < 0.7:
            self.move("withdrawals", "withdrawal", self.rng.randint(1, 1_000))
        else:
            self.read()

    def own_account(self) -> str:
        return self.rng.choice(self.bank.accounts[self.index])

    def transfer(self) -> None:
        source = self.own_account()
        target = self.rng.choice([a for a in self.bank.all_accounts if a != source])
        body: dict[str, Any] = {"source_account_id": source, "target_account_id": target}
        body |= {"amount": self.rng.randint(1, 2_500), "reference": f"t-{uuid.uuid4().hex}"}
        response = self.post("/transfers", body)
        if response is not None and response.status_code == 202:
            self.books.note(transfers={response.json()["id"]: self.index})

    def move(self, path: str, kind: str, amount: int) -> None:
        reference = f"{kind}-{uuid.uuid4().hex}"
        self.books.note(attempted={reference: (kind, amount)})
        body = {"amount": amount, "reference": reference}
        response = self.post(f"/accounts/{self.own_account()}/{path}", body)
        if response is not None and response.status_code == 201:
            self.books.note(**{path: {reference: amount}})

    def post(self, path: str, body: dict[str, Any]) -> requests.Response | None:
        """The definite answer to the POST, or None when it stayed unknown (ambiguous)."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        deadline = time.monotonic() + RETRY_WINDOW_SECONDS
        while time.monotonic() < deadline:
            response = self.call("POST", path, json=body, headers=headers)
            if response is not None and response.status_code not in RETRIABLE:
                self.check_definite(path, response)
                return response
            time.sleep(RETRY_PAUSE_SECONDS)  # a client backing off; nothing to poll
        self.books.note(ambiguous=1)
        return None

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            response: requests.Response = self.client.call(method, path, self.user, **kwargs)
        except requests.RequestException:
            return None  # the server is down or died mid-request
        self.books.note(statuses=Counter([response.status_code]))
        if response.status_code == 503 and "Retry-After" not in response.headers:
            self.books.note(violations=f"503 without Retry-After on {method} {path}")
        return response

    def check_definite(self, path: str, response: requests.Response) -> None:
        if response.status_code >= 500:
            self.books.note(violations=f"{response.status_code} on POST {path}: {response.text}")

    def read(self) -> None:
        self.read_account(self.own_account())
        with self.books.lock:
            mine = [t for t, owner in self.books.transfers.items() if owner == self.index]
        if mine:
            self.read_transfer(self.rng.choice(mine))

    def read_account(self, account_id: str) -> None:
        response = self.call("GET", f"/accounts/{account_id}")
        if response is None or response.status_code != 200:
            return
        account = response.json()
        self.books.note(reads=1)
        balance, available = account["balance"], account["available_balance"]
        if not 0 <= available <= balance:
            self.books.note(violations=f"mid-flight read {account_id}: {account}")

    def read_transfer(self, transfer_id: str) -> None:
        # An acknowledged transfer must be readable at once and ever after (never 404).
        response = self.call("GET", f"/transfers/{transfer_id}")
        if response is not None and response.status_code not in (200, 503):
            self.books.note(violations=f"acknowledged transfer {transfer_id}: {response.text}")


def run_tellers(bank: Bank, books: Books, stop: threading.Event, seed: int) -> list[Teller]:
    """Start one teller per user."""
    tellers = [Teller(bank, i, books, stop, seed * 100 + i) for i in range(len(bank.users))]
    for teller in tellers:
        teller.start()
    return tellers


def join_tellers(tellers: list[Teller]) -> None:
    for teller in tellers:
        teller.join(RETRY_WINDOW_SECONDS + 30)
        assert not teller.is_alive(), f"{teller.name} hung"
        if teller.error is not None:
            raise teller.error
