"""The event feed: a catch-up subscriber of the log of its own, and the feed's query.

`FeedFollower` reads the committed log after its own checkpoint, page by page; each page is
one transaction holding the subjects' new public state, the users' feed entries, the webhook
deliveries they cause and the new checkpoint. So nothing rolled back is ever published (the
log holds only committed events), nothing committed is skipped (`read_all` never passes an
event that commits late), and a crash resumes from the checkpoint with nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from backend.application.errors import ApplicationError
from backend.application.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_feed import (
    PENDING,
    Delivery,
    EventFeedReader,
    EventFeedStore,
    FeedEntry,
    Subject,
)
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.public_events import PublicEventMapper

PAGE_SIZE: Final = 500
FEED_CURSOR: Final = "feed"


class InvalidAfter(ApplicationError):
    """An `after` cursor this service did not issue for the feed."""


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page of a user's feed; `next_cursor` is where to continue, never None."""

    items: list[FeedEntry]
    next_cursor: str


@dataclass
class FeedFollower:
    """Applies the log to the feed; `tick` for a polling loop (0: caught up)."""

    uow_factory: UnitOfWorkFactory
    mapper: PublicEventMapper
    clock: Clock
    ids: IdGenerator
    page_size: int = PAGE_SIZE
    #: Reads how far behind the feed is without a write transaction (an idle tick locks nothing).
    reader: EventFeedReader | None = None
    #: Told after each committed page that made deliveries (wakes the delivery loop).
    on_deliveries: Sequence[Callable[[], None]] = field(default_factory=tuple)

    def tick(self) -> int:
        """Apply the next page; the number of log events read (0: nothing new)."""
        if self.reader is not None:
            head, checkpoint = self.reader.head()
            if head <= checkpoint:
                return 0
        with self.uow_factory() as uow:
            feed = uow.feed
            checkpoint = feed.checkpoint()
            if uow.events.head_position() <= checkpoint:
                return 0
            events = uow.events.read_all(checkpoint, self.page_size)
            if not events:
                return 0
            delivered = self._apply(events, feed)
            feed.save_checkpoint(events[-1].position)
            uow.commit()
        if delivered:
            for wake in self.on_deliveries:
                wake()
        return len(events)

    def tick_backlog(self) -> int:
        """`tick` for a polling loop: at once again only while pages come full, else after
        the loop's idle wait (on PostgreSQL each page's read briefly holds off appenders, so
        the follower reads what accumulated rather than chasing every commit)."""
        count = self.tick()
        return count if count >= self.page_size else 0

    def catch_up(self) -> int:
        total = 0
        while count := self.tick():
            total += count
        return total

    def _apply(self, events: Sequence[StoredEvent], feed: EventFeedStore) -> int:
        subjects = _Subjects(feed)
        subjects.load({event.stream_id for event in events})
        entries: list[FeedEntry] = []
        for stored in events:
            published = self.mapper.map(stored, subjects.get(stored.stream_id), subjects.owner_of)
            if published is None:
                continue
            subjects.put(published.subject)
            entries.extend(published.entries(stored))
        feed.save_subjects(subjects.changed())
        feed.add_entries(entries)
        deliveries = self._deliveries(entries, feed)
        feed.add_deliveries(deliveries)
        return len(deliveries)

    def _deliveries(self, entries: Sequence[FeedEntry], feed: EventFeedStore) -> list[Delivery]:
        if not entries:
            return []
        hooks = feed.webhooks_of({entry.user_id for entry in entries})
        now = self.clock.now()
        return [
            Delivery(
                self.ids.new_id(),
                hook.id,
                entry.user_id,
                entry.position,
                entry.event_id,
                entry.type,
                entry.subject_id,
                PENDING,
                0,
                None,
                None,
                now,
                now,
                now,
            )
            for entry in entries
            for hook in hooks
            if hook.user_id == entry.user_id and hook.wants(entry.type, entry.position)
        ]


class _Subjects:
    """The subjects a page touches: loaded once, changed in memory, saved together."""

    def __init__(self, feed: EventFeedStore) -> None:
        self._feed = feed
        self._known: dict[str, Subject] = {}
        self._changed: dict[str, Subject] = {}
        self._missing: set[str] = set()

    def load(self, ids: set[str]) -> None:
        wanted = ids - self._known.keys() - self._missing
        if wanted:
            found = self._feed.subjects(wanted)
            self._known.update(found)
            self._missing |= wanted - found.keys()

    def get(self, subject_id: str) -> Subject | None:
        return self._known.get(subject_id)

    def put(self, subject: Subject) -> None:
        self._known[subject.subject_id] = self._changed[subject.subject_id] = subject
        self._missing.discard(subject.subject_id)

    def owner_of(self, account_id: str) -> str | None:
        self.load({account_id})
        account = self._known.get(account_id)
        return account.owner_id if account is not None else None

    def changed(self) -> list[Subject]:
        return list(self._changed.values())


@dataclass
class FeedQueries:
    """`GET /events`: the caller's feed after a cursor, in commit order."""

    reader: EventFeedReader

    def page(self, user_id: str, after: str | None, limit: int = DEFAULT_LIMIT) -> FeedPage:
        try:
            position = decode_cursor(after, FEED_CURSOR) or 0
        except ApplicationError as error:
            raise InvalidAfter(str(error)) from None
        items = self.reader.entries(user_id, position, limit)
        last = items[-1].position if items else position
        return FeedPage(items, encode_cursor(FEED_CURSOR, last))

    def lag(self) -> int:
        """Log events the feed has not applied yet (for metrics and tests)."""
        head, checkpoint = self.reader.head()
        return max(0, head - checkpoint)
