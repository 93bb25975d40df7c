"""The event feed's store (in a unit of work) and reader (for the API) on SQL.

On PostgreSQL the follower locks its checkpoint row for the page's transaction (two followers
take turns), and senders claim deliveries with `FOR UPDATE SKIP LOCKED` (two senders never
claim the same row); SQLite's IMMEDIATE transactions already run one writer at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    delete,
    exists,
    or_,
    select,
    update,
)

from backend.adapters.outbound.sqlalchemy.bulk import insert_new, insert_statement
from backend.adapters.outbound.sqlalchemy.event_feed_tables import (
    feed_checkpoint,
    feed_entries,
    feed_subjects,
    webhook_deliveries,
    webhooks,
)
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.application.ports.event_feed import PENDING, Delivery, FeedEntry, Subject, Webhook

_NAME = "feed"
_DELIVERY_FIELDS = [c.name for c in webhook_deliveries.c if c.name != "seq"]
_EARLIER = webhook_deliveries.alias("earlier")
_NOT_FIRST = exists().where(
    _EARLIER.c.webhook_id == webhook_deliveries.c.webhook_id,
    _EARLIER.c.subject_id == webhook_deliveries.c.subject_id,
    _EARLIER.c.status == PENDING,
    _EARLIER.c.position < webhook_deliveries.c.position,
)


def _utc(moment: datetime | None) -> datetime | None:
    return to_utc(moment) if moment is not None else None


def _subject(row: Row[Any]) -> Subject:
    return Subject(
        row.subject_id, row.subject_type, row.owner_id, row.target_account_id,
        row.target_owner_id, bool(row.visible_to_target), dict(row.state),
    )  # fmt: skip


def _entry(row: Row[Any]) -> FeedEntry:
    return FeedEntry(
        row.user_id, row.position, row.event_id, row.type, row.subject_type, row.subject_id,
        to_utc(row.occurred_at), dict(row.data),
    )  # fmt: skip


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        row.id, row.user_id, row.url, tuple(row.event_types), row.secret,
        to_utc(row.created_at), row.after_position, _utc(row.blocked_until), row.failures,
    )  # fmt: skip


def _delivery(row: Row[Any]) -> Delivery:
    values = {name: getattr(row, name) for name in _DELIVERY_FIELDS}
    for moment in ("next_attempt_at", "created_at", "updated_at"):
        values[moment] = to_utc(values[moment])
    return Delivery(**values)


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    return {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}


class SqlAlchemyEventFeedStore:
    """EventFeedStore on a unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect.name

    def checkpoint(self) -> int:
        query = select(feed_checkpoint.c.position).where(feed_checkpoint.c.name == _NAME)
        if self._dialect == "postgresql":
            row = {"name": _NAME, "position": 0}
            self._connection.execute(insert_new(self._dialect, feed_checkpoint), row)
            query = query.with_for_update()
        return int(self._connection.execute(query).scalar() or 0)

    def save_checkpoint(self, position: int) -> None:
        statement = insert_statement(self._dialect, feed_checkpoint)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"position": statement.excluded.position}
        )
        self._connection.execute(statement, {"name": _NAME, "position": position})

    def subjects(self, subject_ids: Collection[str]) -> dict[str, Subject]:
        query = select(feed_subjects).where(feed_subjects.c.subject_id.in_(sorted(subject_ids)))
        return {row.subject_id: _subject(row) for row in self._connection.execute(query)}

    def save_subjects(self, subjects: Sequence[Subject]) -> None:
        if not subjects:
            return
        statement = insert_statement(self._dialect, feed_subjects)
        changing = ("target_owner_id", "visible_to_target", "state")
        statement = statement.on_conflict_do_update(
            index_elements=["subject_id"],
            set_={name: statement.excluded[name] for name in changing},
        )
        rows = [
            {
                "subject_id": s.subject_id,
                "subject_type": s.subject_type,
                "owner_id": s.owner_id,
                "target_account_id": s.target_account_id,
                "target_owner_id": s.target_owner_id,
                "visible_to_target": s.visible_to_target,
                "state": s.state,
            }
            for s in subjects
        ]
        self._connection.execute(statement, rows)

    def add_entries(self, entries: Sequence[FeedEntry]) -> None:
        if entries:
            rows = [
                {
                    "user_id": e.user_id,
                    "position": e.position,
                    "event_id": e.event_id,
                    "type": e.type,
                    "subject_type": e.subject_type,
                    "subject_id": e.subject_id,
                    "occurred_at": to_utc(e.occurred_at),
                    "data": e.data,
                }
                for e in entries
            ]
            self._connection.execute(insert_new(self._dialect, feed_entries), rows)

    def entry(self, user_id: str, position: int) -> FeedEntry | None:
        query = select(feed_entries).where(
            feed_entries.c.user_id == user_id, feed_entries.c.position == position
        )
        row = self._connection.execute(query).first()
        return _entry(row) if row is not None else None

    def webhooks_of(self, user_ids: Collection[str]) -> list[Webhook]:
        query = select(webhooks).where(webhooks.c.user_id.in_(sorted(user_ids)))
        return [_webhook(row) for row in self._connection.execute(query)]

    def add_webhook(self, webhook: Webhook) -> None:
        row = {
            "id": webhook.id, "user_id": webhook.user_id, "url": webhook.url,
            "event_types": list(webhook.event_types), "secret": webhook.secret,
            "created_at": to_utc(webhook.created_at), "after_position": webhook.after_position,
            "blocked_until": None, "failures": 0,
        }  # fmt: skip
        self._connection.execute(webhooks.insert(), row)

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None:
        query = select(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
        row = self._connection.execute(query).first()
        return _webhook(row) if row is not None else None

    def delete_webhook(self, webhook_id: str) -> None:
        hook = webhook_deliveries.c.webhook_id == webhook_id
        self._connection.execute(delete(webhook_deliveries).where(hook))
        self._connection.execute(delete(webhooks).where(webhooks.c.id == webhook_id))

    def save_webhook_health(
        self, webhook_id: str, failures: int, blocked_until: datetime | None
    ) -> None:
        values = {"failures": failures, "blocked_until": _utc(blocked_until)}
        self._connection.execute(update(webhooks).where(webhooks.c.id == webhook_id), values)

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            rows = [_delivery_row(delivery) for delivery in deliveries]
            self._connection.execute(webhook_deliveries.insert(), rows)

    def delivery(self, delivery_id: str) -> Delivery | None:
        query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        row = self._connection.execute(query).first()
        return _delivery(row) if row is not None else None

    def save_delivery(self, delivery: Delivery) -> None:
        row = _delivery_row(delivery)
        this = webhook_deliveries.c.id == delivery.id
        self._connection.execute(update(webhook_deliveries).where(this), row)

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        query = _due(now).limit(limit)
        if self._dialect == "postgresql":
            query = query.with_for_update(of=webhook_deliveries, skip_locked=True)
        due: list[Delivery] = []
        probing: set[str] = set()
        for row in self._connection.execute(query):
            if row.hook_failures:  # a failing endpoint: one probe at a time
                if row.webhook_id in probing:
                    continue
                probing.add(row.webhook_id)
            due.append(_delivery(row))
        return due

    def followers(
        self, heads: Sequence[Delivery], now: datetime, length: int
    ) -> dict[str, list[Delivery]]:
        if not heads or length <= 0:
            return {head.id: [] for head in heads}
        d = webhook_deliveries
        query = (
            select(d)
            .where(
                d.c.webhook_id.in_(sorted({h.webhook_id for h in heads})),
                d.c.subject_id.in_(sorted({h.subject_id for h in heads})),
                d.c.status == PENDING,
                d.c.lease.is_(None),
                d.c.next_attempt_at <= to_utc(now),
            )
            .order_by(d.c.position)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return _followers(list(self._connection.execute(query)), heads, length)


def _followers(
    rows: Sequence[Row[Any]], heads: Sequence[Delivery], length: int
) -> dict[str, list[Delivery]]:
    after = {(h.webhook_id, h.subject_id): h for h in heads}
    found: dict[str, list[Delivery]] = {head.id: [] for head in heads}
    for row in rows:
        head = after.get((row.webhook_id, row.subject_id))
        if head is not None and row.position > head.position and len(found[head.id]) < length:
            found[head.id].append(_delivery(row))
    return found


def _due(now: datetime) -> Select[Any]:
    """Pending deliveries due by `now`, the oldest pending of their (webhook, subject), whose
    endpoint is not backing off; soonest first."""
    d, moment = webhook_deliveries, to_utc(now)
    return (
        select(d, webhooks.c.failures.label("hook_failures"))
        .join(webhooks, webhooks.c.id == d.c.webhook_id)
        .where(
            d.c.status == PENDING,
            d.c.next_attempt_at <= moment,
            or_(webhooks.c.blocked_until.is_(None), webhooks.c.blocked_until <= moment),
            ~_NOT_FIRST,
        )
        .order_by(d.c.next_attempt_at, d.c.position)
    )
