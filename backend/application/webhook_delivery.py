"""Sending webhook deliveries: claim the due ones, sign and POST each, record how it went.

Retries follow the delivery's own schedule (exponential: 5 s, then 25 s, ... over more than a
day by default) and, independently, its endpoint's: a failing endpoint is left alone until its
backoff ends and then probed with one delivery at a time, so a dead receiver costs others
nothing. Deliveries of one subject to one webhook go in order: only the oldest pending one is
ever due. A claim is a lease; an attempt whose lease was taken over (it outlived it) records
nothing, and an attempt that fails for good raises, so the job shows among the failed jobs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_feed import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Delivery,
    EventFeedReader,
    EventFeedStore,
)
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.ports.webhook_transport import (
    Claim,
    DeliveryQueue,
    SendResult,
    WebhookTransport,
)
from backend.application.public_events import rfc3339

#: Seconds before each retry: 8 attempts spread over 27 hours.
DEFAULT_RETRY_DELAYS: Final = (5.0, 25.0, 125.0, 625.0, 3125.0, 15625.0, 78125.0)
DEFAULT_TIMEOUT: Final = 10.0
CLAIM_BATCH: Final = 100
#: Deliveries of one subject a claim takes at once, sent one after the other by one job.
CHAIN_LENGTH: Final = 10
MAX_ERROR_LENGTH: Final = 500


class DeliveryFailed(Exception):
    """A delivery's last attempt failed: it is `failed` now (retry it from the API)."""


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Seconds to wait after the n-th failed attempt; one attempt more than delays."""

    delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def after(self, failures: int) -> timedelta:
        index = min(max(failures, 1), len(self.delays)) - 1
        return timedelta(seconds=self.delays[index] if self.delays else 0.0)


def payload(event_type: str, occurred_at: datetime, data: object) -> str:
    """The body every attempt of a delivery sends (Standard Webhooks' shape)."""
    document = {"type": event_type, "timestamp": rfc3339(occurred_at), "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


@dataclass
class WebhookSender:
    """Claims due deliveries and makes their attempts."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    transport: WebhookTransport
    schedule: RetrySchedule = RetrySchedule()
    timeout: float = DEFAULT_TIMEOUT
    #: For the read before an attempt (on SQLite: one that does not queue for the write lock).
    read_uow_factory: UnitOfWorkFactory | None = None
    #: Told after each recorded attempt: the subject's next delivery may be due now (wakes the
    #: delivery loop, so a subject's deliveries follow each other without waiting for a poll).
    after_attempt: Sequence[Callable[[], None]] = ()

    @property
    def lease(self) -> timedelta:
        """How long a claim holds its deliveries: a whole chain's attempts and then some."""
        return timedelta(seconds=self.timeout * (CHAIN_LENGTH + 2) + 30)

    def claim(self, limit: int = CLAIM_BATCH) -> list[Claim]:
        """Take the deliveries due now, each with those of its subject that may follow it at
        once (a chain, up to CHAIN_LENGTH), all leased to this claim."""
        with self.uow_factory() as uow:
            now = self.clock.now()
            heads = uow.feed.due_deliveries(now, limit)
            followers = uow.feed.followers(heads, now, CHAIN_LENGTH - 1)
            claims = []
            for head in heads:
                lease = self.ids.new_id()
                chain = [head, *followers.get(head.id, ())]
                for delivery in chain:
                    held = replace(delivery, lease=lease, next_attempt_at=now + self.lease)
                    uow.feed.save_delivery(held)
                claims.append(Claim(head.id, lease, tuple(d.id for d in chain[1:])))
            uow.commit()
        return claims

    def dispatch_due(self, queue: DeliveryQueue, reader: EventFeedReader | None = None) -> int:
        """Claim what is due and hand it to `queue`; the number claimed (for a polling loop).
        With `reader`, an idle call only reads (no write transaction when nothing is due)."""
        if reader is not None and not reader.any_due(self.clock.now()):
            return 0
        claims = self.claim()
        if claims:
            queue.enqueue(claims)
        return len(claims)

    def send(self, claim: Claim) -> str:
        """The attempts of a claimed chain, in order, while they succeed; the rest of the chain
        is given back when one does not. One read before and one write after the attempts.
        The last attempt's status ("" when the claim was stale); DeliveryFailed when a
        delivery failed for good."""
        try:
            attempts = self._attempts(claim)
            status, failed = self._record(claim, attempts)
        finally:
            for wake in self.after_attempt:
                wake()
        if failed is not None:
            raise DeliveryFailed(failed)
        return status

    def _attempts(self, claim: Claim) -> list[tuple[Delivery, SendResult]]:
        with (self.read_uow_factory or self.uow_factory)() as uow:
            feed = uow.feed
            chain = [_held(feed.delivery(i), claim.lease) for i in (claim.delivery_id, *claim.then)]
            held = [delivery for delivery in chain if delivery is not None]
            if not held:
                return []
            webhook = feed.webhook(held[0].user_id, held[0].webhook_id)
            entries = [feed.entry(d.user_id, d.position) for d in held]
        if webhook is None:
            return []
        made: list[tuple[Delivery, SendResult]] = []
        for delivery, entry in zip(held, entries, strict=True):
            if entry is None:
                break
            body = payload(entry.type, entry.occurred_at, entry.data)
            result = self.transport.post(
                webhook.url, webhook.secret, entry.event_id, body, self.timeout
            )
            made.append((delivery, result))
            if not result.ok:
                break
        return made

    def _record(
        self, claim: Claim, attempts: list[tuple[Delivery, SendResult]]
    ) -> tuple[str, str | None]:
        """Write what the attempts did, give back the rest of the chain, set the endpoint's
        health; (the last status, the message of a delivery that failed for good)."""
        if not attempts:
            return "", None
        status, failed = "", None
        with self.uow_factory() as uow:
            feed, now = uow.feed, self.clock.now()
            for delivery, result in attempts:
                current = _held(feed.delivery(delivery.id), claim.lease)
                if current is None:
                    return "", None  # the claim went stale meanwhile: another sender has it
                status = self._after(current, result, now, feed)
                if status == FAILED:
                    failed = f"delivery {delivery.id} of {delivery.event_id} to webhook "
                    failed += f"{delivery.webhook_id} failed for good: {_describe(result)}"
            tried = {delivery.id for delivery, _ in attempts}
            for rest in (claim.delivery_id, *claim.then):
                held = None if rest in tried else _held(feed.delivery(rest), claim.lease)
                if held is not None:  # due again at once, behind the one that failed
                    feed.save_delivery(replace(held, lease=None, next_attempt_at=now))
            uow.commit()
        return status, failed

    def _after(
        self, delivery: Delivery, result: SendResult, now: datetime, feed: EventFeedStore
    ) -> str:
        """Save one attempt's outcome and the endpoint's health; the delivery's new status."""
        webhook = feed.webhook(delivery.user_id, delivery.webhook_id)
        attempts = delivery.attempts + 1
        if result.ok:
            status, next_at = SUCCEEDED, now
            health: tuple[int, datetime | None] = (0, None)
        else:
            status = FAILED if attempts >= self.schedule.max_attempts else PENDING
            next_at = now + self.schedule.after(attempts)
            failures = (webhook.failures if webhook else 0) + 1
            health = (failures, now + self.schedule.after(failures))
        feed.save_delivery(
            replace(
                delivery,
                status=status,
                attempts=attempts,
                next_attempt_at=next_at,
                last_status_code=result.status_code,
                last_error=_error(result),
                updated_at=now,
                lease=None,
            )
        )
        if webhook is not None and (webhook.failures, webhook.blocked_until) != health:
            feed.save_webhook_health(webhook.id, *health)
        return status


def _held(delivery: Delivery | None, lease: str) -> Delivery | None:
    if delivery is None or delivery.lease != lease or delivery.status != PENDING:
        return None
    return delivery


def _error(result: SendResult) -> str | None:
    if result.ok:
        return None
    return _describe(result)[:MAX_ERROR_LENGTH]


def _describe(result: SendResult) -> str:
    if result.error:
        return result.error
    return f"HTTP {result.status_code}"
