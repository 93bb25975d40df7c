"""The bank workload through the HTTP API of real processes (RELIABILITY.md R1, R3): random
concurrent transfers, some bound to fail, with balances read while they run; at the end every
accepted transfer is terminal and the books balance to the cent.

Embedded: one `hexbank serve` (SQLite, in-process queue). Distributed: one `hexbank serve` and
two `hexbank worker` processes on PostgreSQL and Redis.
"""

from __future__ import annotations

import random

import pytest

from tests.e2e.bank_audit import check_books, check_failure_reasons, settle
from tests.e2e.bank_workers import start_workers
from tests.e2e.bank_workload import (
    CLOSED,
    CURRENCY,
    INSUFFICIENT,
    UNKNOWN,
    BalanceSampler,
    Bank,
    open_bank,
    plan_transfers,
    submit_all,
)
from tests.live_stack import Stack

pytestmark = pytest.mark.e2e

TRANSFERS, CLIENTS = 200, 8
#: Distributed mode drains 200 transfers in 15-40 s on a busy 2-core machine.
SETTLE_SECONDS = 60


def run_bank_workload(bank: Bank, seed: int) -> None:
    planned = plan_transfers(bank, TRANSFERS, random.Random(seed))  # noqa: S311 (seeded)
    with BalanceSampler(bank) as sampler:
        submissions = submit_all(bank, planned, CLIENTS)
        transfers = settle(bank, set(submissions.accepted), timeout=SETTLE_SECONDS)
    assert submissions.refused == [] and len(submissions.accepted) == TRANSFERS
    assert sampler.violations == [], sampler.violations[:5]
    assert sampler.samples >= len(bank.accounts)  # the invariants were read mid-flight
    outcomes = check_failure_reasons(transfers, submissions.accepted)
    for reason in (CLOSED, CURRENCY, INSUFFICIENT, UNKNOWN):
        assert outcomes[reason] >= TRANSFERS // 48, outcomes  # 1 in 16 planned so
    assert outcomes["completed"] >= TRANSFERS // 3, outcomes
    check_books(bank, transfers)


def test_concurrent_transfers_conserve_money_in_embedded_mode(embedded_stack: Stack) -> None:
    server = embedded_stack.serve()
    run_bank_workload(open_bank(server.url), seed=1)


@pytest.mark.postgres
@pytest.mark.redis
def test_concurrent_transfers_conserve_money_across_distributed_workers(
    distributed_stack: Stack,
) -> None:
    server = distributed_stack.serve()
    start_workers(distributed_stack, 2)
    run_bank_workload(open_bank(server.url), seed=2)
