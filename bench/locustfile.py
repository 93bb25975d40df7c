"""Capacity planning load: a realistic mix of what hexbank's customers do, for locust.

Simulated users play a pool of LOCUST_CUSTOMERS customers (default 10; user n plays customer
n mod pool). A customer is registered, signed in and given two EUR accounts with a first deposit
by the first user that plays it; its access token is refreshed every LOCUST_REFRESH_S seconds
(default 600, under the server's 15-minute token lifetime). Then, with 1-3 s of think time:
list accounts (most often), view one, read its history, deposit, transfer between the two
accounts and check a transfer's status.

    .venv/bin/locust -f bench/locustfile.py --headless --host http://127.0.0.1:8000 \
        --users 100 --spawn-rate 10 --run-time 60s --only-summary

Why a pool: registration and sign-in hash the password with argon2id (deliberately ~0.5-1 s of
CPU each, 64 MiB); a customer per simulated user would make the run a password-hashing benchmark.
Even so the pool's registrations load the server for its first seconds: run for a minute or more.
See bench/README.md.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from typing import Any

from locust import HttpUser, between, task  # type: ignore[import-not-found, unused-ignore]

PASSWORD = "capacity-planning-password"  # noqa: S105 (throwaway users of a test server)
API = "/api/v1"
POOL_SIZE = int(os.environ.get("LOCUST_CUSTOMERS", "10"))
REFRESH_S = float(os.environ.get("LOCUST_REFRESH_S", "600"))


class Customer:
    """A registered customer and its tokens, shared by the simulated users that play it.

    locust patches `threading` for gevent, so the lock makes one user register or refresh
    while the others wait (refresh tokens rotate: two concurrent refreshes would revoke both).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access_token = self.refresh_token = ""
        self.renew_at = 0.0
        self.accounts: list[str] = []
        self.transfers: list[str] = []

    def headers(self, client: Any) -> dict[str, str]:
        """The Authorization header, registering or refreshing first when due."""
        with self.lock:
            if not self.access_token:
                self._register(client)
            elif time.monotonic() >= self.renew_at:
                self._refresh(client)
        return {"Authorization": f"Bearer {self.access_token}"}

    def _register(self, client: Any) -> None:
        email = f"locust-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD, "name": "Locust"}
        client.post(f"{API}/users", json=body, name="register")
        login = {"email": email, "password": PASSWORD}
        self._keep(client.post(f"{API}/auth/token", json=login, name="sign in").json())
        auth = {"Authorization": f"Bearer {self.access_token}"}
        for name in ("Main", "Savings"):
            body = {"name": name, "currency": "EUR"}
            opened = client.post(f"{API}/accounts", json=body, headers=auth, name="open account")
            account_id = str(opened.json()["id"])
            path = f"{API}/accounts/{account_id}/deposits"
            client.post(path, json={"amount": 50_000}, headers=auth, name="deposit")
            self.accounts.append(account_id)

    def _refresh(self, client: Any) -> None:
        body = {"refresh_token": self.refresh_token}
        self._keep(client.post(f"{API}/auth/refresh", json=body, name="refresh").json())

    def _keep(self, tokens: dict[str, Any]) -> None:
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.renew_at = time.monotonic() + REFRESH_S


CUSTOMERS = [Customer() for _ in range(POOL_SIZE)]
_NEXT_CUSTOMER = itertools.count()


class BankCustomer(HttpUser):  # type: ignore[misc, unused-ignore]
    """One simulated user playing one customer: browses more than it moves money."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.customer = CUSTOMERS[next(_NEXT_CUSTOMER) % POOL_SIZE]
        self.customer.headers(self.client)

    def _get(self, path: str, name: str) -> Any:
        return self.client.get(
            f"{API}{path}", headers=self.customer.headers(self.client), name=name
        )

    def _post(self, path: str, body: dict[str, Any], name: str) -> Any:
        headers = self.customer.headers(self.client)
        return self.client.post(f"{API}{path}", json=body, headers=headers, name=name)

    @task(6)  # type: ignore[untyped-decorator, unused-ignore]
    def browse_accounts(self) -> None:
        self._get("/accounts", "list accounts")

    @task(3)  # type: ignore[untyped-decorator, unused-ignore]
    def view_account(self) -> None:
        self._get(f"/accounts/{random.choice(self.customer.accounts)}", "view account")

    @task(3)  # type: ignore[untyped-decorator, unused-ignore]
    def read_history(self) -> None:
        account = random.choice(self.customer.accounts)
        self._get(f"/accounts/{account}/transactions?limit=20", "transaction history")

    @task(2)  # type: ignore[untyped-decorator, unused-ignore]
    def deposit(self) -> None:
        account = random.choice(self.customer.accounts)
        self._post(
            f"/accounts/{account}/deposits", {"amount": random.randint(100, 10_000)}, "deposit"
        )

    @task(1)  # type: ignore[untyped-decorator, unused-ignore]
    def transfer(self) -> None:
        source, target = random.sample(self.customer.accounts, 2)
        body = {"source_account_id": source, "target_account_id": target, "amount": 100}
        accepted = self._post("/transfers", body, "transfer")
        if accepted.status_code == 202:
            self.customer.transfers = [str(accepted.json()["id"]), *self.customer.transfers][:10]

    @task(1)  # type: ignore[untyped-decorator, unused-ignore]
    def check_transfer(self) -> None:
        if self.customer.transfers:
            self._get(f"/transfers/{random.choice(self.customer.transfers)}", "transfer status")
