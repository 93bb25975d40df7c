"""The job function rq runs in the queue contract tests: it hands the batch to the handler
that the test registered for the job's queue."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from backend.application.messaging import event_from_message
from backend.application.ports.job_queue import BatchHandler

PROBE = "tests.adapters.queue_probe.handle"
HANDLERS: dict[str, BatchHandler] = {}


def handle(messages: list[dict[str, Any]]) -> None:
    job = get_current_job()
    assert job is not None
    HANDLERS[job.origin]([event_from_message(message) for message in messages])
