"""The event feed's store and reader contract, on memory, SQLite and PostgreSQL: the follower's
writes, webhooks, deliveries and their claims, and two followers or senders racing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from backend.adapters.outbound.memory.event_feed import InMemoryEventFeedReader
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.sqlalchemy.event_feed_reader import SqlAlchemyEventFeedReader
from backend.application import accounts
from backend.application.commands import CreateWebhook, DeleteWebhook, Deposit, OpenAccount
from backend.application.event_codec import default_codec
from backend.application.event_feed import FeedFollower
from backend.application.ports.event_feed import FAILED, PENDING, SUCCEEDED, EventFeedReader
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.webhook_transport import SendResult
from backend.application.public_events import PublicEventMapper
from backend.application.webhook_delivery import RetrySchedule, WebhookSender
from tests.adapters.conftest import StoreBackend
from tests.fakes import BusRunner, FixedClock, SequentialIds, bus_for_tests

OWNER, OTHER = "owner-1", "owner-2"


class _Ok:
    def post(self, url: str, secret: str, message_id: str, body: str, timeout: float) -> SendResult:
        return SendResult(204)


@dataclass
class Feed:
    runner: BusRunner
    clock: FixedClock
    follower: Callable[[], FeedFollower]
    sender: WebhookSender
    reader: EventFeedReader

    def open(self, owner: str = OWNER, balance: int = 0) -> str:
        meta = EventMetadata(user_id=owner)
        opened = OpenAccount(owner, "Everyday", "EUR")
        account = self.runner.run(lambda ctx: accounts.open_account(opened, ctx), meta).id
        if balance:
            deposit = Deposit(owner, account, balance)
            self.runner.run(lambda ctx: accounts.deposit(deposit, ctx), meta)
        return account

    def hook(self, owner: str = OWNER, *types: str) -> str:
        command = CreateWebhook(owner, "https://hooks.example/in", types)
        return str(self.runner.bus.execute(command, EventMetadata()).id)


@pytest.fixture
def feed(store_backend: StoreBackend) -> Feed:
    clock, ids = FixedClock(), SequentialIds()
    uow = store_backend.uow
    runner = BusRunner(bus_for_tests(uow, clock, ids))
    mapper = PublicEventMapper(default_codec())
    reader: EventFeedReader
    if store_backend.engine is not None:
        reader = SqlAlchemyEventFeedReader(store_backend.engine)
    else:
        memory = uow()
        assert isinstance(memory, InMemoryUnitOfWork)
        db = memory.db
        reader = InMemoryEventFeedReader(db.feed, lambda: db.events[-1].position)
    sender = WebhookSender(uow, clock, ids, _Ok(), RetrySchedule((5.0,)))

    def follower() -> FeedFollower:
        return FeedFollower(uow, mapper, clock, ids, page_size=3, reader=reader)

    return Feed(runner, clock, follower, sender, reader)


def test_the_follower_writes_entries_subjects_and_its_checkpoint(feed: Feed) -> None:
    account = feed.open(balance=5)
    feed.open(owner=OTHER)

    assert feed.follower().catch_up() == 3
    mine = feed.reader.entries(OWNER, 0, 10)
    assert [(e.type, e.subject_id, e.data["balance"]) for e in mine] == [
        ("account.opened", account, 0),
        ("account.deposited", account, 5),
    ]
    assert mine[0].occurred_at.tzinfo is not None
    assert feed.reader.entries(OWNER, mine[0].position, 10) == mine[1:]
    assert [e.type for e in feed.reader.entries(OTHER, 0, 10)] == ["account.opened"]
    head, checkpoint = feed.reader.head()
    assert head == checkpoint == mine[-1].position + 1
    assert feed.follower().tick() == 0


def test_webhooks_are_their_owners_alone_and_listed_oldest_first(feed: Feed) -> None:
    first, second = feed.hook(), feed.hook(OWNER, "account.opened")
    feed.hook(OTHER)

    listed = feed.reader.webhooks(OWNER, None, 10)
    assert [hook.id for _, hook in listed] == [first, second]
    assert listed[1][1].event_types == ("account.opened",)
    assert [hook.id for _, hook in feed.reader.webhooks(OWNER, listed[0][0], 10)] == [second]
    assert feed.reader.webhook(OTHER, first) is None
    assert feed.reader.webhook(OWNER, first) == listed[0][1]
    assert listed[0][1].secret.startswith("whsec_")


def test_deliveries_are_made_claimed_in_order_and_listed_newest_first(feed: Feed) -> None:
    hook = feed.hook()
    account = feed.open(balance=5)
    feed.follower().catch_up()

    assert feed.reader.any_due(feed.clock.now())
    (claim,) = feed.sender.claim()  # the deposit goes right after the opening: same subject
    assert len(claim.then) == 1
    assert not feed.reader.any_due(feed.clock.now())
    assert feed.sender.claim() == []
    assert feed.sender.send(claim) == SUCCEEDED

    listed = feed.reader.deliveries(hook, None, None, 10)
    assert [d.event_type for _, d in listed] == ["account.deposited", "account.opened"]
    assert {d.subject_id for _, d in listed} == {account}
    assert [d.status for _, d in listed] == [SUCCEEDED, SUCCEEDED]
    assert feed.reader.deliveries(hook, PENDING, None, 10) == []
    assert feed.reader.deliveries(hook, None, listed[0][0], 10) == listed[1:]


def test_a_failing_endpoint_gives_one_probe_at_a_time(feed: Feed) -> None:
    hook = feed.hook()
    for _ in range(3):
        feed.open()
    feed.follower().catch_up()
    with feed.runner.bus.uow_factory() as uow:
        uow.feed.save_webhook_health(hook, 2, None)
        uow.commit()

    assert len(feed.sender.claim()) == 1


def test_a_delivery_row_keeps_what_an_attempt_recorded(feed: Feed) -> None:
    hook = feed.hook()
    feed.open()
    feed.follower().catch_up()
    (row,) = [d for _, d in feed.reader.deliveries(hook, None, None, 10)]
    later = feed.clock.now() + timedelta(seconds=5)
    failed = replace(row, status=FAILED, attempts=8, last_status_code=502, last_error="HTTP 502")
    with feed.runner.bus.uow_factory() as uow:
        uow.feed.save_delivery(replace(failed, next_attempt_at=later, updated_at=later))
        uow.commit()

    (_, stored), *_ = feed.reader.deliveries(hook, FAILED, None, 10)
    assert (stored.attempts, stored.last_status_code, stored.last_error) == (8, 502, "HTTP 502")
    assert stored.next_attempt_at == later


def test_deleting_a_webhook_drops_its_deliveries(feed: Feed) -> None:
    hook = feed.hook()
    feed.open()
    feed.follower().catch_up()
    feed.runner.bus.execute(DeleteWebhook(OWNER, hook), EventMetadata())

    assert feed.reader.webhook(OWNER, hook) is None
    assert feed.reader.deliveries(hook, None, None, 10) == []
    assert feed.sender.claim() == []


def test_racing_followers_apply_each_event_once(feed: Feed) -> None:
    feed.hook()
    for _ in range(6):
        feed.open(balance=1)
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            feed.follower().catch_up()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=follow) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    entries = feed.reader.entries(OWNER, 0, 100)
    assert len(entries) == 12 and len({e.position for e in entries}) == 12
    assert (
        len(feed.reader.deliveries(feed.reader.webhooks(OWNER, None, 1)[0][1].id, None, None, 100))
        == 12
    )


def test_racing_senders_never_claim_the_same_delivery(feed: Feed) -> None:
    feed.hook()
    for _ in range(8):
        feed.open()
    feed.follower().catch_up()
    claimed: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        found = feed.sender.claim(limit=3)
        with lock:
            claimed.extend(c.delivery_id for c in found)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(claimed) == len(set(claimed)) == 8


def test_followers_are_the_next_pending_deliveries_of_each_heads_subject(feed: Feed) -> None:
    feed.hook()
    first, second = feed.open(balance=1), feed.open(balance=2)
    feed.follower().catch_up()
    with feed.runner.bus.uow_factory() as uow:
        heads = uow.feed.due_deliveries(feed.clock.now(), 10)
        chains = uow.feed.followers(heads, feed.clock.now(), 5)
        shorter = uow.feed.followers(heads, feed.clock.now(), 0)

    assert [h.subject_id for h in heads] == [first, second]
    assert [[d.event_type for d in chains[h.id]] for h in heads] == [["account.deposited"]] * 2
    assert [chains[h.id][0].subject_id for h in heads] == [first, second]
    assert all(shorter[h.id] == [] for h in heads)
