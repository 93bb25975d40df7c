"""The bank workload through the HTTP API of real processes (RELIABILITY.md R1, R3): random
concurrent transfers, some bound to fail, with balances read while they run; at the end every
accepted transfer is terminal and the books balance to the cent.

Embedded: one `hexbank serve` (SQLite, in-process queue). Distributed: one `hexbank serve` and
two `hexbank worker` processes on PostgreSQL and Redis.
"""

from __future__ import annotations

import pytest

from tests.e2e.bank_audit import run_bank_workload
from tests.e2e.bank_workers import start_workers
from tests.e2e.bank_workload import open_bank
from tests.live_stack import Stack

pytestmark = pytest.mark.e2e


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
