"""rq job functions: thin entry points that build the application once per worker process
and hand the batch to the message dispatcher."""

from __future__ import annotations

from functools import cache
from typing import Any

from backend.application.messaging import event_from_message
from backend.config import Settings
from backend.container import Container, build_container


@cache
def worker_container() -> Container:
    """The container of this worker process, built from the environment on first use."""
    return build_container(Settings.from_env())


def dispatch_events(messages: list[dict[str, Any]]) -> int:
    """Deliver one batch of committed events to their subscribers; raising makes rq retry."""
    events = [event_from_message(message) for message in messages]
    worker_container().message_dispatcher().dispatch(events)
    return len(events)
