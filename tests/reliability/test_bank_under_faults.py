"""R1-R5: the bank under faults. Concurrent random transfers, deposits, withdrawals and reads
through the HTTP API while processes are killed with SIGKILL and restarted, and (distributed)
Redis and PostgreSQL are restarted. At quiescence the books must balance exactly.

Bounded here; `make soak` runs the same tests for HEXBANK_SOAK_SECONDS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
import requests
from rq import Queue

from tests.conftest import TEST_SECRET_KEY
from tests.live_stack import PASSWORD, Client, Process, Server, Stack, User, wait_for
from tests.reliability.audit import (
    audit_books,
    audit_read_side,
    database_url,
    hexbank,
    pending_outbox,
    wait_until_settled,
)
from tests.reliability.faults import (
    FaultInjector,
    kill_and_restart,
    restart_postgres,
    restart_redis,
)
from tests.reliability.services import DATABASE_PASSWORD, PostgresServer, RedisServer
from tests.reliability.stacks import duration
from tests.reliability.workload import Bank, Books, join_tellers, open_bank, run_tellers

pytestmark = pytest.mark.e2e

SEED = 20261121
#: Every transfer ends within this long after the last fault (R4 says 60 s).
SETTLE_SECONDS = 60


def run_under_faults(bank: Bank, books: Books, injector: FaultInjector, seconds: float) -> None:
    """The workload for `seconds` with the injector running beside it."""
    tellers = run_tellers(bank, books, injector.stop_event, SEED)
    injector.start()
    injector.stop_event.wait(seconds)  # the length of the run, not a wait for a result
    injector.stop_event.set()
    applied = injector.finish()
    join_tellers(tellers)
    print(f"faults: {applied}\nstatuses: {dict(books.statuses)}")
    print(f"transfers acknowledged: {len(books.transfers)}, ambiguous: {books.ambiguous}")
    assert applied, "no fault was injected"
    assert not books.violations, books.violations[:10]
    assert books.transfers and books.reads, "the workload did nothing"


def audit_at_quiescence(stack: Stack, bank: Bank, books: Books, processes: list[Process]) -> None:
    dead = [p.name for p in processes if not p.running]
    assert not dead, f"died without being killed: {dead}\n{stack.logs()[-5000:]}"
    wait_until_settled(bank, SETTLE_SECONDS)
    audit_books(bank, books)
    url = database_url(stack)
    wait_for(lambda: pending_outbox(url) == 0, 30, "the outbox to drain")
    audit_read_side(stack)


def test_embedded_books_balance_while_the_server_is_killed(embedded: Stack) -> None:
    web = embedded.serve()
    books = Books()
    bank = open_bank(Client(web.url), books)
    stop = threading.Event()
    injector = FaultInjector([kill_and_restart([web])], stop, SEED, interval=(2.0, 4.0))

    run_under_faults(bank, books, injector, duration(12))

    audit_at_quiescence(embedded, bank, books, [web])


@pytest.mark.postgres
@pytest.mark.redis
def test_distributed_books_balance_through_kills_and_outages(
    distributed: Stack, private_postgres: PostgresServer, private_redis: RedisServer
) -> None:
    # Transfers do not go through Redis (the engines claim them from the database): a Redis
    # restart loses queued jobs, which only carried push notifications; a killed worker's
    # transfers are taken by the other once their lease ends.
    web = distributed.serve()
    workers = [distributed.worker("worker-1"), distributed.worker("worker-2")]
    books = Books()
    bank = open_bank(Client(web.url), books)
    faults = [  # each at least once, in this order, then at random
        kill_and_restart(workers),
        restart_postgres(private_postgres, back=answers(web, bank.users[0])),
        restart_redis(private_redis, back=answers(web, bank.users[0])),
        kill_and_restart([web]),
    ]
    injector = FaultInjector(faults, threading.Event(), SEED, interval=(1.0, 2.5))

    run_under_faults(bank, books, injector, duration(14))

    audit_at_quiescence(distributed, bank, books, [web, *workers])
    audit_failed_jobs(distributed, private_redis)
    assert_no_secret_in_logs(distributed, bank)


def assert_no_secret_in_logs(stack: Stack, bank: Bank) -> None:
    """R15 under faults: outage tracebacks and all, no log line carries a secret."""
    logs = stack.logs()
    secrets = [DATABASE_PASSWORD, TEST_SECRET_KEY, PASSWORD]
    secrets += [token for user in bank.users for token in (user.access_token, user.refresh_token)]
    leaked = [secret[:6] for secret in secrets if secret in logs]
    assert not leaked, f"secrets in the logs: {leaked}"


def answers(web: Server, user: User) -> Callable[[], bool]:
    """Whether an authenticated read succeeds (it needs PostgreSQL and Redis)."""

    def ready() -> bool:
        try:
            return bool(Client(web.url).call("GET", "/accounts", user).status_code == 200)
        except requests.RequestException:
            return False

    return ready


def audit_failed_jobs(stack: Stack, server: RedisServer) -> None:
    """Every job in rq's failed registry is reported by `hexbank jobs failed`."""
    listed = hexbank(stack, "jobs", "failed", "--limit", "10000").strip()
    reported = (
        set()
        if listed == "no failed jobs"
        else {line.split("\t")[0] for line in listed.splitlines()}
    )
    connection = redis.Redis.from_url(server.url)
    try:
        queue = Queue(f"{stack.redis_prefix}events", connection=connection)
        assert reported == set(queue.failed_job_registry.get_job_ids())
    finally:
        connection.close()
    print(f"failed jobs reported: {len(reported)}")
