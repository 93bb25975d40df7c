"""The public event feed over in-memory adapters: what each domain event publishes, to whom,
with which data; the follower's checkpoint; and that rolled-back work publishes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest

from backend.adapters.outbound.memory.event_feed import InMemoryEventFeedReader
from backend.application.event_codec import EventCodec, default_codec
from backend.application.event_feed import FeedFollower, FeedQueries, InvalidAfter
from backend.application.ports.event_feed import FeedEntry
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.public_event_schemas import event_schemas
from backend.application.public_events import (
    ALL_EVENT_TYPES,
    NOT_EMITTED_YET,
    PublicEventMapper,
    public_event_id,
)
from backend.domain.account import ACCOUNT_EVENTS
from backend.domain.money import Money
from backend.domain.transfer import TRANSFER_EVENTS, TransferRequested
from tests.application.saga_harness import Bank
from tests.fakes import InTransaction

PAYER, PAYEE = "owner-1", "owner-2"


@dataclass
class Feed:
    bank: Bank
    follower: FeedFollower
    queries: FeedQueries

    def of(self, user: str) -> list[FeedEntry]:
        self.follower.catch_up()
        return self.queries.reader.entries(user, 0, 10_000)

    def types(self, user: str, subject_id: str | None = None) -> list[str]:
        return [e.type for e in self.of(user) if subject_id in (None, e.subject_id)]


def feed_for(bank: Bank, page_size: int = 500, codec: EventCodec | None = None) -> Feed:
    app = bank.app
    mapper = PublicEventMapper(codec or default_codec())
    follower = FeedFollower(app.uow, mapper, app.clock, app.ids, page_size=page_size)
    reader = InMemoryEventFeedReader(app.db.feed, lambda: app.db.events[-1].position)
    return Feed(bank, follower, FeedQueries(reader))


@pytest.fixture
def bank() -> Bank:
    return Bank()


@pytest.fixture
def feed(bank: Bank) -> Feed:
    return feed_for(bank)


def test_account_events_publish_the_account_as_it_stood_after_each(bank: Bank, feed: Feed) -> None:
    account = bank.open(balance=100)

    opened, deposited = feed.of(PAYER)

    assert (opened.type, deposited.type) == ("account.opened", "account.deposited")
    assert opened.data["balance"] == 0 and opened.data["version"] == 1
    assert deposited.data == {
        **opened.data, "balance": 100, "available_balance": 100, "version": 2,
        "updated_at": deposited.data["updated_at"],
    }  # fmt: skip
    assert {opened.subject_id, opened.subject_type} == {account, "account"}


def test_a_completed_transfer_enters_the_payees_feed_at_its_completion(
    bank: Bank, feed: Feed
) -> None:
    source = bank.open(balance=100, owner=PAYER)
    target = bank.open(owner=PAYEE)
    transfer = bank.transfer(source, target, 30, owner=PAYER)
    bank.run_until_quiet()

    assert feed.types(PAYER, transfer) == ["transfer.requested", "transfer.completed"]
    assert feed.types(PAYEE, transfer) == ["transfer.completed"]
    assert feed.types(PAYEE, target) == ["account.opened", "account.updated"]
    assert feed.types(PAYER, source)[-2:] == ["account.updated", "account.updated"]  # hold, capture
    completed = next(e for e in feed.of(PAYEE) if e.subject_id == transfer)
    assert completed.data["status"] == "completed" and completed.data["completed_at"]
    credited = [e for e in feed.of(PAYEE) if e.subject_id == target][-1]
    assert credited.data["balance"] == 30


def test_a_failed_transfer_stays_the_payers_alone(bank: Bank, feed: Feed) -> None:
    source = bank.open(balance=10, owner=PAYER)
    target = bank.open(owner=PAYEE)
    transfer = bank.transfer(source, target, 30, owner=PAYER)
    bank.run_until_quiet()

    assert feed.types(PAYER, transfer) == ["transfer.requested", "transfer.failed"]
    failed = feed.of(PAYER)[-1]
    assert failed.data["failure_reason"] == "insufficient_funds"
    assert all(entry.subject_id != transfer for entry in feed.of(PAYEE))


def test_an_owner_of_both_accounts_gets_each_event_once(bank: Bank, feed: Feed) -> None:
    source, target = bank.open(balance=50), bank.open()
    transfer = bank.transfer(source, target, 20)
    bank.run_until_quiet()

    assert feed.types(PAYER, transfer) == ["transfer.requested", "transfer.completed"]
    positions = [entry.position for entry in feed.of(PAYER)]
    assert positions == sorted(set(positions))


def test_every_domain_event_type_maps_to_a_public_type_or_to_nothing() -> None:
    published = {
        "AccountOpened": "account.opened", "MoneyDeposited": "account.deposited",
        "MoneyWithdrawn": "account.withdrawn", "AccountClosed": "account.closed",
        "FundsHeld": "account.updated", "HoldReleased": "account.updated",
        "HoldCaptured": "account.updated", "MoneyCredited": "account.updated",
        "TransferRequested": "transfer.requested", "TransferCompleted": "transfer.completed",
        "TransferFailed": "transfer.failed", "TransferFundsHeld": None,
        "TransferTargetCredited": None, "TransferCompensationStarted": None,
    }  # fmt: skip
    known = {cls.__name__ for cls in (*ACCOUNT_EVENTS, *TRANSFER_EVENTS)}
    assert set(published) == known  # a new domain event must be placed here on purpose
    emitted = {kind for kind in published.values() if kind}
    assert emitted | NOT_EMITTED_YET == set(ALL_EVENT_TYPES)
    assert not emitted & NOT_EMITTED_YET


@dataclass(frozen=True, slots=True)
class _TransferRequestedV9(TransferRequested):
    """The internal event grown a field (and its data renamed inside): the public one is not."""

    priority: str = "high"


_TransferRequestedV9.__name__ = "TransferRequested"


def test_an_internal_field_change_does_not_leak_into_the_public_event() -> None:
    classes = [cls for cls in (*ACCOUNT_EVENTS, *TRANSFER_EVENTS) if cls is not TransferRequested]
    grown = EventCodec([*classes, _TransferRequestedV9])
    data = {
        "source_account_id": "a", "target_account_id": "b", "amount": 5, "currency": "EUR",
        "reference": None, "requested_by": "owner-1", "deadline": "2026-11-21T10:01:00+00:00",
    }  # fmt: skip
    before = _map(default_codec(), "TransferRequested", data)
    after = _map(grown, "TransferRequested", {**data, "priority": "low"})

    assert before == after
    assert before.type == "transfer.requested" and before.recipients == ("owner-1",)
    assert not {"requested_by", "deadline", "priority"} & before.subject.state.keys()


def _map(codec: EventCodec, kind: str, data: dict[str, Any]) -> Any:
    stored = StoredEvent(
        7, "event-7", "transfer-1", "transfer", 1, kind, 1, data, EventMetadata(),
        datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    return PublicEventMapper(codec).map(stored, None, lambda _: None)


def test_every_published_event_matches_its_json_schema(bank: Bank, feed: Feed) -> None:
    source, target = bank.open(balance=100), bank.open(owner=PAYEE)
    bank.transfer(source, target, 30)
    bank.transfer(source, target, 300)
    bank.run_until_quiet()
    bank.close(bank.open())
    schemas = event_schemas()

    entries = feed.of(PAYER) + feed.of(PAYEE)
    for entry in entries:
        item = {
            "id": entry.event_id, "type": entry.type, "subject_type": entry.subject_type,
            "subject_id": entry.subject_id, "occurred_at": "2026-11-21T10:00:00Z",
            "data": entry.data,
        }  # fmt: skip
        jsonschema_rs.validate(schemas[entry.subject_type]["event"], item)
    assert {e.type for e in entries} >= {"account.closed", "transfer.failed", "account.updated"}


def test_ids_are_stable_and_not_the_internal_ones(bank: Bank, feed: Feed) -> None:
    bank.open(balance=5)
    first = feed.of(PAYER)
    stored = bank.app.db.events

    assert [entry.event_id for entry in first] == [public_event_id(e.event_id) for e in stored]
    assert not {entry.event_id for entry in first} & {e.event_id for e in stored}
    assert feed_for(bank).of(PAYER) == first


def test_a_rolled_back_command_publishes_nothing(bank: Bank, feed: Feed) -> None:
    account = bank.open(balance=5)

    def deposit_then_fail(ctx: Any) -> None:
        loaded = ctx.accounts.get(account)
        loaded.deposit(Money(7, "EUR"))
        ctx.accounts.save(loaded, ctx.metadata)
        raise RuntimeError("the command fails after appending")

    with pytest.raises(RuntimeError):
        bank.runner.bus.execute(InTransaction(deposit_then_fail), EventMetadata())

    assert feed.types(PAYER) == ["account.opened", "account.deposited"]


def test_a_follower_that_stops_between_pages_resumes_from_its_checkpoint(bank: Bank) -> None:
    for owner in ("a", "b", "c"):
        bank.open(balance=3, owner=owner)
    small = feed_for(bank, page_size=2)
    assert small.follower.tick() == 2  # one page, then the process "dies"

    restarted = feed_for(bank, page_size=2)
    restarted.follower.catch_up()

    everything = [e for owner in "abc" for e in restarted.queries.reader.entries(owner, 0, 100)]
    assert [e.type for e in everything] == ["account.opened", "account.deposited"] * 3
    assert len({(e.user_id, e.position) for e in everything}) == 6


def test_the_cursor_never_runs_out_and_pages_neither_skip_nor_repeat(
    bank: Bank, feed: Feed
) -> None:
    for _ in range(3):
        bank.open(balance=4)
    feed.follower.catch_up()
    seen: list[FeedEntry] = []
    cursor = None
    for _ in range(10):
        page = feed.queries.page(PAYER, cursor, 4)
        seen += page.items
        if not page.items:
            break
        cursor = page.next_cursor

    assert [e.position for e in seen] == [e.position for e in feed.of(PAYER)]
    assert feed.queries.page(PAYER, cursor, 4).next_cursor == cursor
    bank.open()
    assert [e.type for e in feed.queries.page(PAYER, cursor, 4).items] == []  # not applied yet
    feed.follower.catch_up()
    assert [e.type for e in feed.queries.page(PAYER, cursor, 4).items] == ["account.opened"]
    with pytest.raises(InvalidAfter):
        feed.queries.page(PAYER, "bm9wZQ", 4)
