"""The outbound-events ports: the public feed, its subjects, webhooks and their deliveries.

The feed is a catch-up subscriber of the event log of its own: it keeps its own checkpoint,
the public state of every subject (folded by `public_events`), the feed entries of each user
and the webhook deliveries they cause, all written in one transaction per page of the log.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)


@dataclass(frozen=True, slots=True)
class Subject:
    """An account or transfer as the API shows it (`state`), and who may see it."""

    subject_id: str
    subject_type: str
    #: The account's owner, or the transfer's source owner (the payer).
    owner_id: str
    #: A transfer's target account and, once known, its owner (the payee); else None.
    target_account_id: str | None
    target_owner_id: str | None
    #: A transfer the payee may see (authorized for them, or completed).
    visible_to_target: bool
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One public event in one user's feed; `position` (the log's) orders and keys it."""

    user_id: str
    position: int
    event_id: str
    type: str
    subject_type: str
    subject_id: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Webhook:
    """A user's endpoint for the public events committed after `after_position`."""

    id: str
    user_id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    created_at: datetime
    after_position: int
    #: Per-endpoint backoff: nothing is sent to it before this moment (None: not backing off).
    blocked_until: datetime | None = None
    #: Attempts that failed in a row (reset by a success).
    failures: int = 0

    def wants(self, event_type: str, position: int) -> bool:
        return position > self.after_position and (
            not self.event_types or event_type in self.event_types
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One feed entry on its way to one webhook, and how its attempts went."""

    id: str
    webhook_id: str
    user_id: str
    position: int
    event_id: str
    event_type: str
    subject_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    #: Set while a sender holds it (a claim); an attempt whose lease moved on is dropped.
    lease: str | None = None


class EventFeedStore(Protocol):
    """The feed's writes and reads inside one unit of work."""

    def checkpoint(self) -> int:
        """The last log position applied (0 when none), locked until the transaction ends
        where supported, so two followers never apply the same page."""
        ...

    def save_checkpoint(self, position: int) -> None: ...

    def subjects(self, subject_ids: Collection[str]) -> dict[str, Subject]: ...

    def save_subjects(self, subjects: Sequence[Subject]) -> None: ...

    def add_entries(self, entries: Sequence[FeedEntry]) -> None:
        """Insert feed entries (one already there is left as it is)."""
        ...

    def entry(self, user_id: str, position: int) -> FeedEntry | None: ...

    def webhooks_of(self, user_ids: Collection[str]) -> list[Webhook]: ...

    def add_webhook(self, webhook: Webhook) -> None: ...

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None: ...

    def delete_webhook(self, webhook_id: str) -> None:
        """Forget the webhook and its deliveries."""
        ...

    def save_webhook_health(
        self, webhook_id: str, failures: int, blocked_until: datetime | None
    ) -> None: ...

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None: ...

    def delivery(self, delivery_id: str) -> Delivery | None: ...

    def save_delivery(self, delivery: Delivery) -> None: ...

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries due by `now` whose endpoint is not backing off and that are the
        oldest pending one of their (webhook, subject); skipping rows another sender holds
        locked where supported. An endpoint that is failing gives one at a time (a probe)."""
        ...

    def followers(
        self, heads: Sequence[Delivery], now: datetime, length: int
    ) -> dict[str, list[Delivery]]:
        """Per head (by id): up to `length` pending deliveries due by `now` that follow it in
        its (webhook, subject), oldest first, unleased: what may go right after it."""
        ...


class EventFeedReader(Protocol):
    """What the API lists, outside any write transaction."""

    def entries(self, user_id: str, after: int, limit: int) -> list[FeedEntry]: ...

    def webhooks(self, user_id: str, after: int | None, limit: int) -> list[tuple[int, Webhook]]:
        """(row key, webhook) oldest first, keys above `after`."""
        ...

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None: ...

    def deliveries(
        self, webhook_id: str, status: str | None, after: int | None, limit: int
    ) -> list[tuple[int, Delivery]]:
        """(row key, delivery) newest first, keys below `after`."""
        ...

    def any_due(self, now: datetime) -> bool:
        """Whether a sender would find a delivery due now (a read that locks nothing)."""
        ...

    def head(self) -> tuple[int, int]:
        """(the log's head position, the feed's checkpoint): how far behind the feed is."""
        ...
