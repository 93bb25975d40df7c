"""kill -9 of real hexbank processes while transfers are in flight (RELIABILITY.md R4, bounded):
every accepted transfer still ends completed or failed, and the books balance.

- distributed: a `hexbank worker` (its transfer engine among its loops) dies several times and
  is restarted; the transfers it had claimed are taken by the other worker (or by itself once
  back) when their lease ends, and go on from the rounds it had committed.
- embedded: the `hexbank serve` process (gunicorn master and worker, the engine in the worker)
  dies and is restarted on the same port; the restarted engine takes the transfers nobody had
  claimed at once, those the killed one had claimed once their lease ends; its relay re-sends
  the unacknowledged outbox on start.

The deadline plays no part in the recovery: the transfer timeout is far longer than the chain
of leases a transfer claimed at every kill would wait (10 s, then 20 s, ...). Timing out is
still allowed as an outcome (a machine loaded enough may make any deadline pass), never being
left pending.
"""

from __future__ import annotations

import random
import threading

import pytest

from tests.e2e.bank_audit import check_books, check_failure_reasons, settle
from tests.e2e.bank_workers import Workers
from tests.e2e.bank_workload import BalanceSampler, Bank, PacedLoad, open_bank, plan_transfers
from tests.live_stack import Stack, wait_for

pytestmark = pytest.mark.e2e

#: Long enough that the leases, not the deadline, end what the killed engines had claimed.
TRANSFER_TIMEOUT = "60"
KILLS = 3
#: After the load: what a killed engine had claimed waits for its lease (one per kill at most).
SETTLE_SECONDS = 45
#: The embedded load runs until both kills are over: requests sent while the server restarts
#: fail at once (unanswered), and a slow restart must not use the whole plan up.
EMBEDDED_PLAN = 900 * 20


def pause(rng: random.Random, low: float, high: float) -> None:
    """A random moment for the next fault (fault injection, not waiting for work)."""
    threading.Event().wait(rng.uniform(low, high))


def check_recovered(bank: Bank, load: PacedLoad, sampler: BalanceSampler) -> None:
    accepted = load.submissions.accepted
    transfers = settle(bank, set(accepted), SETTLE_SECONDS + float(TRANSFER_TIMEOUT))
    assert load.submissions.refused == []
    assert sampler.violations == [], sampler.violations[:5]
    outcomes = check_failure_reasons(transfers, accepted, also_allowed=("timed_out",))
    assert outcomes["completed"] > 0, outcomes
    check_books(bank, transfers)


@pytest.mark.postgres
@pytest.mark.redis
# Its own deadlines bound it; on a loaded machine their sum passes the suite's default 300 s.
@pytest.mark.timeout(600)
def test_killed_workers_leave_no_transfer_pending_and_lose_no_money(
    distributed_stack: Stack,
) -> None:
    rng = random.Random(7)  # noqa: S311 (a seeded workload)
    distributed_stack.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = TRANSFER_TIMEOUT
    server = distributed_stack.serve()
    workers = Workers.start(distributed_stack, 2)
    bank = open_bank(server.url)
    planned = plan_transfers(bank, 80, rng)
    with BalanceSampler(bank) as sampler:  # the web process stays up: every read must answer
        with PacedLoad(bank, planned, clients=4, rate=6) as load:
            for _ in range(KILLS):
                pause(rng, 1.0, 2.5)
                workers.crash_one(rng)
            load.finish(timeout=30)
        workers.wait_working()
        wait_for(lambda: not workers.strays(), 10, "the killed workers' forks to die too")
        check_recovered(bank, load, sampler)
    # The web process never died: every request was answered, accepted or (while no worker
    # ran, so the backlog would not have finished in time) refused at the door.
    submissions = load.submissions
    assert len(submissions.accepted) + submissions.deferred == len(planned)
    assert submissions.unanswered == 0


@pytest.mark.timeout(600)  # its own deadlines bound it, as above
def test_a_killed_embedded_server_finishes_every_transfer_after_restart(
    embedded_stack: Stack,
) -> None:
    rng = random.Random(8)  # noqa: S311 (a seeded workload)
    embedded_stack.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = TRANSFER_TIMEOUT
    server = embedded_stack.serve()
    bank = open_bank(server.url)
    planned = plan_transfers(bank, EMBEDDED_PLAN, rng)  # more than is sent: stopped at the end
    with BalanceSampler(bank, tolerate_outage=True) as sampler:
        with PacedLoad(bank, planned, clients=6, rate=30) as load:
            for _ in range(2):
                pause(rng, 1.0, 2.5)
                accepted_before = len(load.submissions.accepted)
                server.kill_tree()  # gunicorn's master and its worker, together
                server.start()  # on the same port
                wait_for_more_accepted(load, accepted_before)
        check_recovered(bank, load, sampler)
    assert load.submissions.unanswered > 0  # requests were in flight at the kills


def wait_for_more_accepted(load: PacedLoad, than: int) -> None:
    def more() -> bool:
        return len(load.submissions.accepted) >= than + 10

    wait_for(more, 60, "transfers accepted after the restart")
