"""R5, Redis down (distributed mode), on a private Redis this test stops and starts.

What the code does, and this test pins down:
- Reads keep working while Redis is down: token revocations are checked in SQL (durable, and
  a Redis that restarts empty must never let a revoked token pass again).
- Commands keep being accepted: a deposit commits as usual, and a transfer is answered 202.
- Transfers go on: a worker started during the outage runs every transfer accepted before or
  during it to its end, since its transfer engine needs only the database (it polls when no
  commit signal can wake it).
- The outbox keeps the command events (what push tells the users) until Redis is back: the
  relay keeps each row until enqueueing it succeeds. Nothing accepted is lost.
- Login answers 503 + Retry-After: its failure counters live in Redis, and without them the
  password-guessing limit could not be enforced.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.live_stack import PASSWORD, Client, Stack, User, wait_for
from tests.reliability.audit import database_url, pending_outbox
from tests.reliability.services import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: Long enough that no transfer can end by its deadline: each must be run by the engine.
TRANSFER_TIMEOUT = "300"
BACK_WITHIN_SECONDS = 10


def assert_unavailable(what: str, response: requests.Response) -> None:
    assert response.status_code == 503, (what, response.text)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def outage_answers(client: Client, user: User, source: str, target: str) -> dict[str, Any]:
    body = {"source_account_id": source, "target_account_id": target, "amount": 1}
    return {
        "transfer": client.call("POST", "/transfers", user, json=body),
        "deposit": client.call("POST", f"/accounts/{source}/deposits", user, json={"amount": 1}),
        "read": client.call("GET", f"/accounts/{source}", user),
        "list": client.call("GET", "/transfers", user),
        "login": client.call(
            "POST", "/auth/token", json={"email": user.email, "password": PASSWORD}
        ),
    }


#: What each request answers while Redis is down.
DURING_OUTAGE = {"transfer": 202, "deposit": 201, "read": 200, "list": 200}


def test_with_redis_down_reads_commands_and_transfers_work_and_push_waits_in_the_outbox(
    distributed: Stack, private_redis: RedisServer
) -> None:
    distributed.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = TRANSFER_TIMEOUT
    web = distributed.serve()
    client = Client(web.url)
    user = client.register()
    source, target = client.open_account(user, deposit=1_000), client.open_account(user)
    # No worker yet: accepted transfers wait in the work table, their events in the outbox.
    accepted = [client.transfer(user, source, target, 10)["id"] for _ in range(5)]
    url = database_url(distributed)
    assert pending_outbox(url) >= len(accepted)

    private_redis.kill()
    try:
        answers = outage_answers(client, user, source, target)
        assert_unavailable("login", answers.pop("login"))
        assert {name: r.status_code for name, r in answers.items()} == DURING_OUTAGE
        accepted.append(answers["transfer"].json()["id"])
        assert requests.get(f"{web.url}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{web.url}/readyz", timeout=5)
        assert ready.status_code == 503 and "redis" in ready.json()["detail"]
        worker = distributed.worker()  # its relay cannot enqueue: the rows must stay
        wait_for(lambda: "loop failed" in worker.log(), 30, "the relay to fail on Redis")
        # ... while its engine runs every transfer to its end, Redis down all along.
        for transfer_id in accepted:
            assert client.wait_terminal(user, transfer_id, timeout=60)["status"] == "completed"
        # Five transfers of 10 before the outage, one of 1 during it.
        assert client.account(user, target)["balance"] == 10 * (len(accepted) - 1) + 1
        assert pending_outbox(url) >= len(accepted)
    finally:
        private_redis.start()

    login = {"email": user.email, "password": PASSWORD}
    wait_for(lambda: client.call("POST", "/auth/token", json=login).status_code == 200,
             BACK_WITHIN_SECONDS, "login to work again after Redis returned")  # fmt: skip
    wait_for(lambda: pending_outbox(url) == 0, 30, "the outbox to drain")
    assert worker.running
