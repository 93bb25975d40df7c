"""kill -9 of the process that runs the transfer engine, at random moments, on SQLite: the
embedded web process (in-process queue) and an rq worker. Every accepted transfer still ends,
none by its deadline, and money is conserved: the restarted engine takes the transfers the
killed one had claimed once their lease ran out (short leases here, long deadlines), and goes
on from what its rounds had committed. The transfer-work table and the outbox end empty."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from backend.application import accounts
from backend.application.commands import Deposit, OpenAccount, RequestTransfer
from backend.application.ports.event_store import EventMetadata
from backend.application.transfers import request_transfer
from backend.entrypoints.cli.migrate import upgrade_database
from tests.adapters.messaging_process import SqlBank, sql_bank

ROOT = Path(__file__).resolve().parents[2]
META = EventMetadata(user_id="owner")
ACCOUNTS, START_BALANCE, TRANSFERS, KILLS = 4, 1000, 60, 3
#: Far beyond the test: a transfer that ends `timed_out` would show a lost claim never resumed.
TIMEOUT = timedelta(minutes=10)


class MessagingProcess:
    """The subprocess running the engine, relay and queue; killed without warning."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log.open("a"),
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    upgrade_database(url)
    return url


@pytest.fixture(params=["embedded", "rq_worker"])
def messaging(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[MessagingProcess]:
    """The process to kill."""
    if request.param == "embedded":
        args = ["tests.adapters.messaging_process", database_url]
    else:
        redis_url: str = request.getfixturevalue("redis_url")
        queue = f"{request.getfixturevalue('redis_prefix')}-crash-{uuid.uuid4().hex[:8]}"
        args = ["tests.adapters.worker_process", database_url, redis_url, queue]
    process = MessagingProcess(args, tmp_path / "log")
    yield process
    process.kill()


def open_funded(bank: SqlBank) -> str:
    opened = OpenAccount("owner", "Everyday", "EUR")
    account_id = bank.runner.run(lambda ctx: accounts.open_account(opened, ctx), META).id
    deposit = Deposit("owner", account_id, START_BALANCE)
    bank.runner.run(lambda ctx: accounts.deposit(deposit, ctx), META)
    return account_id


def request(bank: SqlBank, source: str, target: str, amount: int) -> str:
    command = RequestTransfer("owner", source, target, amount)
    return bank.runner.run(lambda ctx: request_transfer(command, ctx, TIMEOUT), META).id


def statuses(bank: SqlBank, transfer_ids: list[str]) -> Counter[str]:
    """How many transfers are pending, completed, or failed for each reason."""

    def load(transfer_id: str) -> str:
        transfer = bank.runner.run(lambda ctx: ctx.transfers.get(transfer_id), META)
        assert transfer is not None
        return transfer.failure_reason or transfer.status

    return Counter(load(transfer_id) for transfer_id in transfer_ids)


def balances(bank: SqlBank, account_ids: list[str]) -> dict[str, tuple[int, int]]:
    def load(account_id: str) -> tuple[int, int]:
        account = bank.runner.run(lambda ctx: ctx.accounts.get(account_id), META)
        assert account is not None
        return account.balance, account.available

    return {account_id: load(account_id) for account_id in account_ids}


def test_killed_engine_process_resumes_every_transfer_on_restart(
    database_url: str, messaging: MessagingProcess
) -> None:
    bank, messaging_process = sql_bank(database_url), messaging
    rng = random.Random(7)  # noqa: S311 (a seeded, replayable schedule)
    account_ids = [open_funded(bank) for _ in range(ACCOUNTS)]
    transfer_ids: list[str] = []
    messaging_process.start()
    for round_ in range(KILLS):
        for _ in range(TRANSFERS // KILLS):
            source, target = rng.sample(account_ids, 2)
            transfer_ids.append(request(bank, source, target, rng.randint(1, 400)))
        time.sleep(rng.uniform(0.05, 0.4))  # let the engine get somewhere, then kill -9
        messaging_process.kill()
        for balance, available in balances(bank, account_ids).values():
            assert balance >= 0 and 0 <= available <= balance, f"round {round_}"
        messaging_process.start()
    wait_until(lambda: not statuses(bank, transfer_ids)["pending"], "every transfer to end")
    wait_until(lambda: bank.pending_outbox() == 0, "the outbox to drain")
    messaging_process.kill()
    final = balances(bank, account_ids)
    assert sum(balance for balance, _ in final.values()) == ACCOUNTS * START_BALANCE
    assert all(balance == available for balance, available in final.values())  # no holds left
    outcomes = statuses(bank, transfer_ids)
    assert set(outcomes) <= {"completed", "insufficient_funds"}, outcomes  # none timed out
    assert outcomes["completed"] > 0, outcomes
    assert bank.pending_work() == 0  # every ended transfer's row went with its end


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)
