"""`hexbank worker` and `hexbank jobs failed`, with rq on a real Redis and memory adapters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.application.relay import OutboxRelay
from backend.container import Container
from backend.entrypoints.cli.main import cli
from backend.entrypoints.cli.runtime import Runtime
from tests.adapters import queue_probe
from tests.application.saga_harness import Bank
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEXBANK_ENV", "test")
    monkeypatch.setenv("HEXBANK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEXBANK_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.delenv("HEXBANK_REDIS_URL", raising=False)


@dataclass
class Distributed:
    """A memory bank around a prefixed rq queue, and the Runtime the CLI is given for it."""

    bank: Bank
    queue: RqJobQueue
    runtime: Runtime

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=self.runtime)


@pytest.fixture
def distributed(
    environment: None, monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str
) -> Distributed:
    """The worker's container replaced by memory adapters around a prefixed rq queue."""
    monkeypatch.setenv("HEXBANK_REDIS_URL", redis_url)
    bank = Bank()
    name = f"{redis_prefix}-cli-{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(redis_url)
    # One immediate retry: a burst worker runs it (a delayed one would need the scheduler).
    queue = RqJobQueue(connection, name, job_function=queue_probe.PROBE, retry_intervals=(0,))
    queue_probe.HANDLERS[name] = bank.dispatcher.dispatch
    engine = create_engine("sqlite://")
    container = SimpleNamespace(
        job_queue=lambda: queue,
        outbox_relay=lambda: OutboxRelay(bank.app.uow, queue),
        transfer_sweeper=lambda: bank.sweeper,
        message_dispatcher=lambda: bank.dispatcher,
        relay_wakeup=lambda: bank.relay_wakeup,
        projection_runner=lambda: None,  # the memory bank has no read side to follow
        commit_signal=lambda: None,  # no web process commits here: the relay just polls
        engine=lambda: engine,  # the memory adapters use none; the worker guards its pool
    )
    return Distributed(bank, queue, Runtime(container=cast(Container, container)))


def test_worker_refuses_to_start_in_embedded_mode(environment: None) -> None:
    result = CliRunner().invoke(cli, ["worker", "--burst"])
    assert result.exit_code != 0
    assert "HEXBANK_REDIS_URL is not set" in result.output


def test_worker_relays_and_runs_a_transfer_to_its_end(
    distributed: Distributed,
) -> None:
    bank = distributed.bank
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    for _ in range(20):  # each burst runs what the relay had sent when it started
        result = distributed.invoke("worker", "--burst", "--no-sweep")
        assert result.exit_code == 0, result.output
        if bank.transfer_state(transfer_id).status != "pending":
            break
    assert bank.transfer_state(transfer_id).status == "completed"
    assert bank.account(target).balance == 30


def test_jobs_failed_lists_jobs_that_ran_out_of_retries(
    distributed: Distributed,
) -> None:
    bank, queue = distributed.bank, distributed.queue

    def broken(events: object) -> None:
        raise RuntimeError("subscriber down")

    queue_probe.HANDLERS[queue.queue.name] = broken
    bank.open(100)
    assert distributed.invoke("worker", "--burst", "--no-sweep").exit_code == 0
    listed = distributed.invoke("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "2 events\t2 attempts" in listed.output
    assert "subscriber down" in listed.output
