"""Embedded mode's queue and relay wired as the container wires them, for tests that build
their own: the relay marks a row once the in-process job that carried it succeeded."""

from __future__ import annotations

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.application.ports.job_queue import BatchHandler
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.relay import InFlightRows, OutboxRelay


def in_process_queue_and_relay(
    uow_factory: UnitOfWorkFactory,
    handler: BatchHandler,
    workers: int = 2,
    retry_delays: tuple[float, ...] = (0.1, 0.5, 2.0, 10.0),
) -> tuple[InProcessJobQueue, OutboxRelay]:
    """An in-process queue running `handler`, and the relay that feeds it."""
    in_flight = InFlightRows(uow_factory)
    queue = InProcessJobQueue(
        handler, workers=workers, retry_delays=retry_delays, on_success=in_flight.acknowledge
    )
    return queue, OutboxRelay(uow_factory, queue, in_flight=in_flight)
