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
from rq import SimpleWorker
from sqlalchemy import create_engine

from backend.adapters.outbound.memory.work_rows import WorkRow
from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.adapters.outbound.webhooks.queues import RqDeliveryQueue, delivery_job_class
from backend.application.commands import CreateWebhook
from backend.application.event_codec import default_codec
from backend.application.event_feed import FeedFollower
from backend.application.messaging import MessageDispatcher, build_dispatcher
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.transfer_work import STUCK_AFTER_ATTEMPTS
from backend.application.ports.webhook_transport import SendResult
from backend.application.public_events import PublicEventMapper
from backend.application.relay import OutboxRelay, Wakeup
from backend.application.webhook_delivery import RetrySchedule, WebhookSender
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
    #: What the rq jobs delivered to the dispatcher (where the push notifier sits).
    delivered: list[StoredEvent]
    deliveries: RqDeliveryQueue

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=self.runtime)


@pytest.fixture
def distributed(
    environment: None, monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str
) -> Distributed:
    """The worker's container replaced by memory adapters around a prefixed rq queue."""
    monkeypatch.setenv("HEXBANK_REDIS_URL", redis_url)
    bank, delivered = Bank(), list[StoredEvent]()
    name = f"{redis_prefix}-cli-{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(redis_url)
    # One immediate retry: a burst worker runs it (a delayed one would need the scheduler).
    queue = RqJobQueue(connection, name, job_function=queue_probe.PROBE, retry_intervals=(0,))
    dispatcher = delivering_to(delivered)
    queue_probe.HANDLERS[name] = dispatcher.dispatch
    engine = create_engine("sqlite://")
    relay_wakeup, engine_wakeup = Wakeup(), Wakeup()
    deliveries = RqDeliveryQueue(connection, f"{name}-webhooks")
    container = SimpleNamespace(
        events=SimpleNamespace(delivery_queue=lambda: deliveries),
        job_queue=lambda: queue,
        outbox_relay=lambda: OutboxRelay(bank.app.uow, queue),
        transfer_engine=lambda: bank.engine,
        message_dispatcher=lambda: dispatcher,
        relay_wakeup=lambda: relay_wakeup,
        engine_wakeup=lambda: engine_wakeup,
        projection_runner=lambda: None,  # the memory bank has no read side to follow
        commit_signal=lambda: None,  # no web process commits here: the loops just poll
        engine=lambda: engine,  # the memory adapters use none; the worker guards its pool
    )
    runtime = Runtime(container=cast(Container, container))
    return Distributed(bank, queue, runtime, delivered, deliveries)


def delivering_to(delivered: list[StoredEvent]) -> MessageDispatcher:
    dispatcher = build_dispatcher()
    dispatcher.batch_subscribers.append(delivered.extend)
    return dispatcher


def test_worker_refuses_to_start_in_embedded_mode(environment: None) -> None:
    result = CliRunner().invoke(cli, ["worker", "--burst"])
    assert result.exit_code != 0
    assert "HEXBANK_REDIS_URL is not set" in result.output


def test_a_burst_worker_runs_the_ready_transfers_to_their_end_and_relays_the_outbox(
    distributed: Distributed,
) -> None:
    bank = distributed.bank
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    result = distributed.invoke("worker", "--burst")
    assert result.exit_code == 0, result.output
    assert bank.transfer_state(transfer_id).status == "completed"
    assert (bank.account(source).balance, bank.account(target).balance) == (70, 30)
    assert bank.pending_work() == []
    # The command events reached the dispatcher (push) through rq; the engine's did not.
    delivered = [event.type for event in distributed.delivered]
    assert "TransferRequested" in delivered and "TransferCompleted" not in delivered


def test_a_worker_without_the_engine_only_relays(distributed: Distributed) -> None:
    bank = distributed.bank
    transfer_id = bank.transfer(bank.open(100), bank.open(), 30)
    result = distributed.invoke("worker", "--burst", "--no-engine")
    assert result.exit_code == 0, result.output
    assert "TransferRequested" in [event.type for event in distributed.delivered]
    assert bank.transfer_state(transfer_id).status == "pending"
    assert bank.pending_work() == [transfer_id]  # left to the workers that run the engine


def test_jobs_failed_lists_jobs_that_ran_out_of_retries(
    distributed: Distributed,
) -> None:
    bank, queue = distributed.bank, distributed.queue

    def broken(events: object) -> None:
        raise RuntimeError("subscriber down")

    queue_probe.HANDLERS[queue.queue.name] = broken
    bank.open(100)
    assert distributed.invoke("worker", "--burst", "--no-engine").exit_code == 0
    listed = distributed.invoke("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "2 events\t2 attempts" in listed.output
    assert "subscriber down" in listed.output


def test_jobs_failed_lists_the_transfers_whose_rounds_keep_failing(
    distributed: Distributed,
) -> None:
    bank = distributed.bank
    with bank.app.db.lock:  # work for a transfer whose stream is missing: every round fails
        now = bank.app.clock.now()
        bank.app.db.transfer_work["ghost"] = WorkRow("ghost", now, now)
    for attempt in range(STUCK_AFTER_ATTEMPTS):
        assert "ghost" not in distributed.invoke("jobs", "failed").output
        bank.engine.run_once()  # the fused round fails, then the leased one for it alone
        bank.after_the_lease() if attempt == 0 else bank.app.clock.advance(seconds=3600)
    listed = distributed.invoke("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "transfer ghost\tnext " in listed.output
    assert f"{STUCK_AFTER_ATTEMPTS} attempts" in listed.output


class _Down:
    def post(self, url: str, secret: str, message_id: str, body: str, timeout: float) -> SendResult:
        return SendResult(None, "connection refused")


def test_jobs_failed_lists_webhook_deliveries_that_failed_for_good(
    distributed: Distributed,
) -> None:
    bank, deliveries = distributed.bank, distributed.deliveries
    app = bank.app
    follower = FeedFollower(app.uow, PublicEventMapper(default_codec()), app.clock, app.ids)
    # One attempt only: its failure is final, and the rq job fails with it.
    sender = WebhookSender(app.uow, app.clock, app.ids, _Down(), RetrySchedule(()))
    command = CreateWebhook("owner-1", "https://hooks.example/in", ())
    hook = bank.runner.bus.execute(command, EventMetadata())
    bank.open()
    follower.catch_up()
    assert sender.dispatch_due(deliveries) == 1

    job_class = delivery_job_class(sender.send)
    worker = SimpleWorker(
        [deliveries.queue], connection=deliveries.queue.connection, job_class=job_class
    )
    worker.work(burst=True)

    listed = distributed.invoke("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "failed for good: connection refused" in listed.output
    (_, delivery), *_ = [row for row in app.db.feed.deliveries.values()]
    assert (delivery.webhook_id, delivery.status, delivery.attempts) == (hook.id, "failed", 1)
