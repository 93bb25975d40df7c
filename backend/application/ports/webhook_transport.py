"""Ports of webhook deliveries: the HTTP call that sends one, and the queue that runs them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from backend.application.ports.job_queue import FailedJob


@dataclass(frozen=True, slots=True)
class Claim:
    """Deliveries a sender holds (`lease` says whose attempts they are): one, and those of its
    subject that go right after it while it succeeds."""

    delivery_id: str
    lease: str
    then: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one attempt went: the receiver's status code, or why there was none."""

    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookTransport(Protocol):
    """Signs (Standard Webhooks) and POSTs one payload, within `timeout` seconds overall."""

    def post(self, url: str, secret: str, message_id: str, body: str, timeout: float) -> SendResult:
        """The attempt's result; never raises for what the receiver or the network did."""
        ...


class DeliveryQueue(Protocol):
    """Runs claimed deliveries apart from the transfers' jobs (a job per delivery)."""

    def enqueue(self, claims: Sequence[Claim]) -> None: ...

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        """Deliveries whose last attempt failed for good, newest first."""
        ...
