"""The event feed's reader for the API: one-statement reads on the primary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, func, select

from backend.adapters.outbound.sqlalchemy.engine import single_reads
from backend.adapters.outbound.sqlalchemy.event_feed import _delivery, _due, _entry, _webhook
from backend.adapters.outbound.sqlalchemy.event_feed_tables import (
    feed_checkpoint,
    feed_entries,
    webhook_deliveries,
    webhooks,
)
from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.application.ports.event_feed import Delivery, FeedEntry, Webhook


class SqlAlchemyEventFeedReader:
    """EventFeedReader: one-statement reads on the primary (read-your-writes for webhooks)."""

    def __init__(self, engine: Engine) -> None:
        self._reads = single_reads(engine)

    def entries(self, user_id: str, after: int, limit: int) -> list[FeedEntry]:
        query = (
            select(feed_entries)
            .where(feed_entries.c.user_id == user_id, feed_entries.c.position > after)
            .order_by(feed_entries.c.position)
            .limit(limit)
        )
        with self._reads.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def webhooks(self, user_id: str, after: int | None, limit: int) -> list[tuple[int, Webhook]]:
        query = select(webhooks).where(webhooks.c.user_id == user_id)
        if after is not None:
            query = query.where(webhooks.c.seq > after)
        query = query.order_by(webhooks.c.seq).limit(limit)
        with self._reads.connect() as connection:
            return [(row.seq, _webhook(row)) for row in connection.execute(query)]

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None:
        query = select(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
        with self._reads.connect() as connection:
            row = connection.execute(query).first()
        return _webhook(row) if row is not None else None

    def deliveries(
        self, webhook_id: str, status: str | None, after: int | None, limit: int
    ) -> list[tuple[int, Delivery]]:
        d = webhook_deliveries
        conditions = [d.c.webhook_id == webhook_id]
        if status is not None:
            conditions.append(d.c.status == status)
        if after is not None:
            conditions.append(d.c.seq < after)
        query = select(d).where(and_(*conditions)).order_by(d.c.seq.desc()).limit(limit)
        with self._reads.connect() as connection:
            return [(row.seq, _delivery(row)) for row in connection.execute(query)]

    def any_due(self, now: datetime) -> bool:
        with self._reads.connect() as connection:
            return connection.execute(_due(now).limit(1)).first() is not None

    def head(self) -> tuple[int, int]:
        query = select(
            select(func.coalesce(func.max(events.c.position), 0)).scalar_subquery(),
            select(func.coalesce(func.max(feed_checkpoint.c.position), 0)).scalar_subquery(),
        )
        with self._reads.connect() as connection:
            head, checkpoint = connection.execute(query).one()
        return int(head), int(checkpoint)
