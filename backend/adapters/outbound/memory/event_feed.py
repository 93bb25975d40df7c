"""In-memory event feed: the same store and reader as on SQL, for application tests.

Writes are staged and published at commit under the database's lock (reads see what was
committed, which is all the feed's writers need: each reads before it writes)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from backend.application.ports.event_feed import PENDING, Delivery, FeedEntry, Subject, Webhook


@dataclass
class InMemoryFeedData:
    """What the feed's tables hold."""

    checkpoint: int = 0
    subjects: dict[str, Subject] = field(default_factory=dict)
    entries: dict[tuple[str, int], FeedEntry] = field(default_factory=dict)
    webhooks: dict[str, tuple[int, Webhook]] = field(default_factory=dict)
    deliveries: dict[str, tuple[int, Delivery]] = field(default_factory=dict)
    keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Held from a follower's checkpoint read to its transaction's end (as the SQL row lock).
    follower: threading.Lock = field(default_factory=threading.Lock)


Change = Callable[[InMemoryFeedData], None]


class InMemoryEventFeedStore:
    """EventFeedStore over InMemoryFeedData; `publish` applies the staged writes."""

    def __init__(self, data: InMemoryFeedData) -> None:
        self._data = data
        self._staged: list[Change] = []
        self._following = False

    def publish(self) -> None:
        with self._data.lock:
            for change in self._staged:
                change(self._data)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        if self._following:
            self._following = False
            self._data.follower.release()

    def checkpoint(self) -> int:
        if not self._following:
            self._data.follower.acquire()
            self._following = True
        return self._data.checkpoint

    def save_checkpoint(self, position: int) -> None:
        self._staged.append(lambda data: setattr(data, "checkpoint", position))

    def subjects(self, subject_ids: Collection[str]) -> dict[str, Subject]:
        with self._data.lock:
            known = self._data.subjects
            return {key: known[key] for key in subject_ids if key in known}

    def save_subjects(self, subjects: Sequence[Subject]) -> None:
        saved = list(subjects)
        self._staged.append(lambda data: data.subjects.update({s.subject_id: s for s in saved}))

    def add_entries(self, entries: Sequence[FeedEntry]) -> None:
        def add(data: InMemoryFeedData) -> None:
            for entry in entries:
                data.entries.setdefault((entry.user_id, entry.position), entry)

        self._staged.append(add)

    def entry(self, user_id: str, position: int) -> FeedEntry | None:
        with self._data.lock:
            return self._data.entries.get((user_id, position))

    def webhooks_of(self, user_ids: Collection[str]) -> list[Webhook]:
        with self._data.lock:
            return [hook for _, hook in self._data.webhooks.values() if hook.user_id in user_ids]

    def add_webhook(self, webhook: Webhook) -> None:
        self._staged.append(
            lambda data: data.webhooks.__setitem__(webhook.id, (next(data.keys), webhook))
        )

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None:
        with self._data.lock:
            found = self._data.webhooks.get(webhook_id)
        return found[1] if found is not None and found[1].user_id == user_id else None

    def delete_webhook(self, webhook_id: str) -> None:
        def drop(data: InMemoryFeedData) -> None:
            data.webhooks.pop(webhook_id, None)
            for key, (_, delivery) in list(data.deliveries.items()):
                if delivery.webhook_id == webhook_id:
                    del data.deliveries[key]

        self._staged.append(drop)

    def save_webhook_health(
        self, webhook_id: str, failures: int, blocked_until: datetime | None
    ) -> None:
        def save(data: InMemoryFeedData) -> None:
            if webhook_id in data.webhooks:
                key, hook = data.webhooks[webhook_id]
                healthy = replace(hook, failures=failures, blocked_until=blocked_until)
                data.webhooks[webhook_id] = (key, healthy)

        self._staged.append(save)

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        def add(data: InMemoryFeedData) -> None:
            for delivery in deliveries:
                data.deliveries[delivery.id] = (next(data.keys), delivery)

        self._staged.append(add)

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self._data.lock:
            found = self._data.deliveries.get(delivery_id)
        return found[1] if found is not None else None

    def save_delivery(self, delivery: Delivery) -> None:
        def save(data: InMemoryFeedData) -> None:
            if delivery.id in data.deliveries:
                data.deliveries[delivery.id] = (data.deliveries[delivery.id][0], delivery)

        self._staged.append(save)

    def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        with self._data.lock:
            pending = [d for _, d in self._data.deliveries.values() if d.status == PENDING]
            hooks = {key: hook for key, (_, hook) in self._data.webhooks.items()}
        first: dict[tuple[str, str], Delivery] = {}
        for delivery in sorted(pending, key=lambda d: d.position):
            first.setdefault((delivery.webhook_id, delivery.subject_id), delivery)
        due, probing = [], set()
        for delivery in sorted(first.values(), key=lambda d: (d.next_attempt_at, d.position)):
            hook = hooks.get(delivery.webhook_id)
            if hook is None or delivery.next_attempt_at > now:
                continue
            if hook.blocked_until is not None and hook.blocked_until > now:
                continue
            if hook.failures:
                if hook.id in probing:
                    continue
                probing.add(hook.id)
            due.append(delivery)
        return due[:limit]

    def followers(
        self, heads: Sequence[Delivery], now: datetime, length: int
    ) -> dict[str, list[Delivery]]:
        with self._data.lock:
            pending = [d for _, d in self._data.deliveries.values() if d.status == PENDING]
        found: dict[str, list[Delivery]] = {}
        for head in heads:
            chain = sorted(
                (
                    d for d in pending
                    if (d.webhook_id, d.subject_id) == (head.webhook_id, head.subject_id)
                    and d.position > head.position and d.lease is None
                    and d.next_attempt_at <= now
                ),
                key=lambda d: d.position,
            )  # fmt: skip
            found[head.id] = chain[:length]
        return found


class InMemoryEventFeedReader:
    """EventFeedReader over InMemoryFeedData (and the log's head from `head_position`)."""

    def __init__(self, data: InMemoryFeedData, head_position: Callable[[], int]) -> None:
        self._data, self._head = data, head_position

    def entries(self, user_id: str, after: int, limit: int) -> list[FeedEntry]:
        with self._data.lock:
            mine = [
                e
                for (user, pos), e in self._data.entries.items()
                if user == user_id and pos > after
            ]
        return sorted(mine, key=lambda entry: entry.position)[:limit]

    def webhooks(self, user_id: str, after: int | None, limit: int) -> list[tuple[int, Webhook]]:
        with self._data.lock:
            rows = [row for row in self._data.webhooks.values() if row[1].user_id == user_id]
        rows = [
            row for row in sorted(rows, key=lambda row: row[0]) if after is None or row[0] > after
        ]
        return rows[:limit]

    def webhook(self, user_id: str, webhook_id: str) -> Webhook | None:
        with self._data.lock:
            found = self._data.webhooks.get(webhook_id)
        return found[1] if found is not None and found[1].user_id == user_id else None

    def deliveries(
        self, webhook_id: str, status: str | None, after: int | None, limit: int
    ) -> list[tuple[int, Delivery]]:
        with self._data.lock:
            rows = list(self._data.deliveries.values())
        rows = [
            row for row in sorted(rows, key=lambda row: -row[0])
            if row[1].webhook_id == webhook_id
            and (status is None or row[1].status == status)
            and (after is None or row[0] < after)
        ]  # fmt: skip
        return rows[:limit]

    def any_due(self, now: datetime) -> bool:
        return bool(InMemoryEventFeedStore(self._data).due_deliveries(now, 1))

    def head(self) -> tuple[int, int]:
        return self._head(), self._data.checkpoint
