"""What a command or a delivered event leaves behind: a metric, a log line, and the log
context (correlation id, causation id, position) of everything it logs meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structlog.contextvars import bound_contextvars

from backend.application.messaging import Subscriber
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.metrics import (
    COMMITTED,
    REJECTED,
    UNCHANGED,
    FinishedCommand,
    Metrics,
)
from backend.logging_setup import get_logger

log = get_logger("hexbank.commands")


class CommandLog:
    """The CommandBus's observer: counts each command and logs it as one line.

    The line carries the correlation id (or ids: a transfer engine's round) and positions of
    what the command appended, so a transfer can be followed by its id from the web process
    (the request) to the worker (the round that ran it). Event data is never logged: it may
    name people and amounts.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def __call__(self, finished: FinishedCommand) -> None:
        self._metrics.command_finished(finished.command_type, finished.outcome, finished.seconds)
        fields: dict[str, Any] = {
            "command": finished.command_type,
            "outcome": finished.outcome,
            "duration_ms": round(finished.seconds * 1000, 2),
        }
        if finished.events:
            # A transfer engine's round works for many transfers: each is findable by its id.
            ids = list(dict.fromkeys(e.metadata.correlation_id for e in finished.events))
            if len(ids) == 1:
                fields["correlation_id"] = ids[0]
            else:
                fields["correlation_ids"] = ids
            fields["positions"] = [event.position for event in finished.events]
            fields["events"] = [event.type for event in finished.events]
        _log_method(finished.outcome)("command", **fields)


def _log_method(outcome: str) -> Callable[..., Any]:
    if outcome in (COMMITTED, REJECTED):
        return log.info
    # A no-op is the normal answer to a redelivered message: worth a line only when debugging.
    return log.debug if outcome == UNCHANGED else log.warning


def deliver_in_event_context(subscriber: Subscriber, event: StoredEvent) -> None:
    """The dispatcher's delivery: run the subscriber (a saga step, a counter) in the log
    context of its event (its commands are named by their types, as everywhere)."""
    fields: dict[str, Any] = {
        "correlation_id": event.metadata.correlation_id,
        "causation_id": event.event_id,
        "position": event.position,
        "event_type": event.type,
    }
    if event.metadata.user_id is not None:
        fields["user_id"] = event.metadata.user_id
    with bound_contextvars(**fields):
        subscriber(event)
