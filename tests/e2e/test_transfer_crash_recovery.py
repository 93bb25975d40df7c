"""kill -9 of real hexbank processes while transfers are in flight (RELIABILITY.md R4, bounded):
every accepted transfer still ends completed or failed, and the books balance.

- distributed: a `hexbank worker` dies mid-job several times and is restarted; a killed job is
  not run again, but the events it committed before dying are relayed and carry their transfer
  on; a transfer whose job died before any step committed is ended by the sweeper.
- embedded: the `hexbank serve` process (gunicorn master and worker) dies and is restarted on
  the same port; its relay re-sends the unacknowledged backlog on start, the sweeper the rest.

A short HEXBANK_TRANSFER_TIMEOUT makes the sweeper's share resolve within the test. Short, but
not shorter than a transfer takes on a busy machine: every transfer is timed from its request,
queueing included, and a timeout below the saga's latency under load times out all of them
(then nothing is left to show that the killed workers' transfers carried on).
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

#: Embedded restarts re-send the backlog at once; distributed ones leave a killed job's
#: events to the sweeper, and a restarted worker takes seconds to start (tens of seconds on
#: a loaded machine, while the other worker carries the whole load through relay and queue
#: hops): 6 s there timed out every transfer on a busy CI box.
EMBEDDED_TIMEOUT, DISTRIBUTED_TIMEOUT = "3", "30"
KILLS = 3
#: After the load: the sweeper's share ends one timeout after its request, the rest sooner.
SETTLE_SECONDS = 45


def pause(rng: random.Random, low: float, high: float) -> None:
    """A random moment for the next fault (fault injection, not waiting for work)."""
    threading.Event().wait(rng.uniform(low, high))


def check_recovered(bank: Bank, load: PacedLoad, sampler: BalanceSampler, timeout: str) -> None:
    accepted = load.submissions.accepted
    transfers = settle(bank, set(accepted), SETTLE_SECONDS + float(timeout))
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
    distributed_stack.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = DISTRIBUTED_TIMEOUT
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
        check_recovered(bank, load, sampler, DISTRIBUTED_TIMEOUT)
    # The web process never died: every request was answered, accepted or (while no worker
    # ran, so the backlog would not have finished in time) refused at the door.
    submissions = load.submissions
    assert len(submissions.accepted) + submissions.deferred == len(planned)
    assert submissions.unanswered == 0


def test_a_killed_embedded_server_finishes_every_transfer_after_restart(
    embedded_stack: Stack,
) -> None:
    rng = random.Random(8)  # noqa: S311 (a seeded workload)
    embedded_stack.extra_env["HEXBANK_TRANSFER_TIMEOUT"] = EMBEDDED_TIMEOUT
    server = embedded_stack.serve()
    bank = open_bank(server.url)
    planned = plan_transfers(bank, 900, rng)  # more than is sent: the load stops at the end
    with BalanceSampler(bank, tolerate_outage=True) as sampler:
        with PacedLoad(bank, planned, clients=6, rate=30) as load:
            for _ in range(2):
                pause(rng, 1.0, 2.5)
                accepted_before = len(load.submissions.accepted)
                server.kill_tree()  # gunicorn's master and its worker, together
                server.start()  # on the same port
                wait_for_more_accepted(load, accepted_before)
        check_recovered(bank, load, sampler, EMBEDDED_TIMEOUT)
    assert load.submissions.unanswered > 0  # requests were in flight at the kills


def wait_for_more_accepted(load: PacedLoad, than: int) -> None:
    def more() -> bool:
        return len(load.submissions.accepted) >= than + 10

    wait_for(more, 15, "transfers accepted after the restart")
