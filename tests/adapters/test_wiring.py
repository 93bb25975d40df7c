"""The container's wiring of the messaging side: hooks are constructor arguments, per mode."""

from __future__ import annotations

import pytest

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.inline import InlineJobQueue
from backend.adapters.outbound.queue.rq_queue import RqJobQueue, run_batch
from backend.application.commands import OpenAccount
from backend.application.ports.event_store import EventMetadata
from backend.container import build_container
from backend.entrypoints.cli.runtime import Runtime
from tests.conftest import SettingsFactory


def test_embedded_commands_wake_the_relay_and_the_engine_and_jobs_acknowledge_rows(
    make_settings: SettingsFactory,
) -> None:
    container = build_container(make_settings())
    wakeup, relay, queue = container.relay_wakeup(), container.outbox_relay(), container.job_queue()
    command_log, wakes_relay, wakes_engine = container.command_bus().observers
    assert (command_log, wakes_relay) == (container.command_log(), wakeup.after_command)
    # ... and this process's engine when a command requested a transfer.
    assert wakes_engine.__qualname__ == "waking_on_requests.<locals>.after_command"
    assert container.message_dispatcher().after_dispatch == ()
    assert isinstance(queue, InProcessJobQueue)
    assert relay.queue is queue
    assert relay.in_flight is container.in_flight_rows()
    opened = OpenAccount("u-1", "Main", "EUR")
    container.command_bus().execute(opened, EventMetadata())
    try:
        assert relay.relay_all() == 1  # in flight until its job ran: sent once
        assert queue.join(timeout=10)  # the job ran, and acknowledged its row
        with container.unit_of_work() as uow:
            assert uow.outbox.pending() == []
    finally:
        queue.close()
        container.engine().dispose()


def test_distributed_relays_push_batches_inline_and_commands_only_log(
    make_settings: SettingsFactory,
) -> None:
    # Building the adapters opens no connection, so no Redis server is needed here.
    container = build_container(make_settings(HEXBANK_REDIS_URL="redis://127.0.0.1:1/0"))
    assert container.command_bus().observers == (container.command_log(),)
    assert isinstance(container.job_queue(), RqJobQueue)  # rq: for what needs retries
    assert isinstance(container.outbox_relay().queue, InlineJobQueue)
    assert container.outbox_relay().in_flight is None


def test_distributed_web_commands_also_wake_the_workers_relays(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(HEXBANK_REDIS_URL="redis://127.0.0.1:1/0")
    web, worker = build_container(settings, serves_http=True), build_container(settings)
    command_log, *signalling = web.command_bus().observers
    assert command_log is web.command_log()
    assert [observer.__qualname__ for observer in signalling] == [
        "signalling_commits.<locals>.after_command"
    ]
    assert worker.command_bus().observers == (worker.command_log(),)


def test_a_job_run_outside_hexbank_worker_says_so() -> None:
    with pytest.raises(RuntimeError, match="hexbank worker"):
        run_batch([])


def test_each_cli_invocation_builds_its_own_container(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    first, second = Runtime(settings), Runtime(settings)
    assert first.container() is first.container()
    assert first.container() is not second.container()
