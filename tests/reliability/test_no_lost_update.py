"""R7: no lost update. Concurrent requests on one account through the HTTP API of a live
stack (SQLite embedded, and PostgreSQL + rq distributed): exactly as many succeed as the
money allows, and the account's event stream stays contiguous.

The command layer's own race test (50 threads, both stores) is
tests/adapters/test_concurrency.py; this one goes through HTTP, gunicorn's threads and the
transfer saga.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.e2e.bank_audit import pages
from tests.live_stack import Client, User
from tests.reliability.stacks import distributed_stack, embedded_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(
    scope="module",
    params=[
        "embedded",
        pytest.param("distributed", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ],
)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Client]:
    """A live stack of each mode, shared by this module's tests (each uses its own users)."""
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        stack = embedded_stack(directory)
    else:
        private = [request.getfixturevalue(f) for f in ("private_postgres", "private_redis")]
        stack = distributed_stack(directory, *private)
    try:
        web = stack.serve()
        if stack.redis_url:
            stack.worker()
        yield Client(web.url)
    finally:
        stack.stop()


def all_at_once(count: int, send: Callable[[requests.Session], requests.Response]) -> list[Any]:
    """`count` requests released together by a barrier; their responses."""
    barrier, responses, lock = threading.Barrier(count), [], threading.Lock()

    def run() -> None:
        session = requests.Session()
        barrier.wait()
        response = send(session)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(responses) == count, "a request hung"
    return responses


def stream_versions(client: Client, user: User, account_id: str) -> list[int]:
    return [e["version"] for e in pages(client, user, f"/accounts/{account_id}/events")]


def test_sixteen_concurrent_withdrawals_of_ten_from_a_hundred(client: Client) -> None:
    user = client.register()
    account = client.open_account(user, deposit=100)
    url = f"{client.base_url}/api/v1/accounts/{account}/withdrawals"

    responses = all_at_once(
        16, lambda s: s.post(url, json={"amount": 10}, headers=user.auth, timeout=30)
    )

    outcomes = Counter(
        (r.status_code, r.json().get("type") if r.status_code != 201 else "ok") for r in responses
    )
    assert outcomes == {(201, "ok"): 10, (422, "/problems/insufficient-funds"): 6}
    assert client.account(user, account)["balance"] == 0
    assert len({r.json()["balance_after"] for r in responses if r.status_code == 201}) == 10
    assert stream_versions(client, user, account) == list(range(1, 13))


def test_fifty_concurrent_transfers_out_of_one_account(client: Client) -> None:
    user, payee = client.register(), client.register()
    source = client.open_account(user, deposit=300)
    targets = [client.open_account(payee) for _ in range(5)]
    url = f"{client.base_url}/api/v1/transfers"
    bodies: Iterator[dict[str, Any]] = iter(
        {"source_account_id": source, "target_account_id": targets[n % 5], "amount": 10}
        for n in range(50)
    )
    lock = threading.Lock()

    def send(session: requests.Session) -> requests.Response:
        with lock:
            body = next(bodies)
        return session.post(url, json=body, headers=user.auth, timeout=30)

    responses = all_at_once(50, send)

    assert Counter(r.status_code for r in responses) == {202: 50}
    ended = [client.wait_terminal(user, r.json()["id"], timeout=60) for r in responses]
    outcomes = Counter((t["status"], t["failure_reason"]) for t in ended)
    assert outcomes == {("completed", None): 30, ("failed", "insufficient_funds"): 20}
    final = client.account(user, source)
    assert (final["balance"], final["available_balance"]) == (0, 0)
    assert sum(client.account(payee, t)["balance"] for t in targets) == 300
    versions = stream_versions(client, user, source)
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) == 2 + 30 * 2  # opened, deposited; a hold and its capture per success
