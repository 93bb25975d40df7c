"""Query services over the in-memory read side: ownership, pages, cursors, as_of, events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.errors import NotFound
from backend.application.pagination import InvalidCursor, decode_cursor, encode_cursor
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.queries import AccountQueries, DailyTotalView, TransferQueries
from tests.read_side import Bank, ReadSide

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def side() -> ReadSide:
    db = InMemoryDatabase()
    return ReadSide("memory", lambda: InMemoryUnitOfWork(db), InMemoryReadModelReader(db))


@pytest.fixture
def bank(side: ReadSide) -> Bank:
    bank = side.bank()
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob")
    bank.deposit("acc-a", 500, "first")
    return bank


@pytest.fixture
def accounts(side: ReadSide) -> AccountQueries:
    return AccountQueries(side.reader)


def test_someone_elses_account_is_not_found_like_an_unknown_one(
    bank: Bank, accounts: AccountQueries
) -> None:
    assert accounts.account("alice", "acc-a").available_balance == 500
    for owner, account_id in (("bob", "acc-a"), ("alice", "acc-nope")):
        with pytest.raises(NotFound):
            accounts.account(owner, account_id)
        with pytest.raises(NotFound):
            accounts.transactions(owner, account_id)
        with pytest.raises(NotFound):
            accounts.account_as_of(owner, account_id, START + timedelta(days=1))


def test_accounts_page_oldest_first(bank: Bank, accounts: AccountQueries) -> None:
    bank.open("acc-c", "alice", "Second")
    first = accounts.accounts("alice", limit=1)
    assert [a.id for a in first.items] == ["acc-a"] and first.next_cursor is not None
    rest = accounts.accounts("alice", limit=1, cursor=first.next_cursor)
    assert [a.id for a in rest.items] == ["acc-c"] and rest.next_cursor is None


def test_events_page_oldest_first_with_upcast_data(
    side: ReadSide, accounts: AccountQueries
) -> None:
    with side.uow() as uow:
        opened = {"owner_id": "alice", "name": "Old", "currency": "EUR"}
        meta = EventMetadata(correlation_id="c-1")
        uow.events.append("acc-old", "account", 0, [
            NewEvent("e1", "AccountOpened", 1, opened, meta, START),
            NewEvent("e2", "MoneyDeposited", 1, {"amount": "10.50"}, meta, START),
        ])  # fmt: skip
        uow.commit()
    side.follower().catch_up()
    first = accounts.events("alice", "acc-old", limit=1)
    assert [(e.version, e.type) for e in first.items] == [(1, "AccountOpened")]
    second = accounts.events("alice", "acc-old", limit=1, cursor=first.next_cursor)
    (deposit,) = second.items
    assert (deposit.schema_version, deposit.data["amount"], deposit.correlation_id) == (
        2, 1_050, "c-1",
    )  # fmt: skip
    assert second.next_cursor is None


def test_as_of_before_opening_is_not_found(bank: Bank, accounts: AccountQueries) -> None:
    with pytest.raises(NotFound):
        accounts.account_as_of("alice", "acc-a", START - timedelta(seconds=1))
    naive = accounts.account_as_of("alice", "acc-a", START.replace(tzinfo=None))
    assert naive.balance == 500  # a naive instant is read as UTC


def test_daily_totals_show_each_active_day(bank: Bank, accounts: AccountQueries) -> None:
    bank.clock.advance(days=1)
    bank.withdraw("acc-a", 200)
    assert accounts.daily_totals("alice", "acc-a") == [
        DailyTotalView(date(2026, 11, 21), 500, 0, 0, 0, 500),
        DailyTotalView(date(2026, 11, 22), 0, 200, 0, 0, 300),
    ]


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64 at all!", encode_cursor("accounts", 3), "eyJrIjoidHJhbnNhY3Rpb25zIn0"],
)
def test_a_cursor_not_issued_for_the_listing_is_invalid(
    bank: Bank, accounts: AccountQueries, cursor: str
) -> None:
    with pytest.raises(InvalidCursor):
        accounts.transactions("alice", "acc-a", cursor=cursor)


def test_cursor_round_trips_its_key() -> None:
    assert decode_cursor(encode_cursor("transfers", 42), "transfers") == 42
    assert decode_cursor(None, "transfers") is None


def test_transfers_are_visible_to_both_owners_only(side: ReadSide, bank: Bank) -> None:
    bank.transfer("t-1", "acc-a", "acc-b", 100, "alice")
    transfers = TransferQueries(side.reader)
    assert transfers.transfer("alice", "t-1").status == "completed"
    assert transfers.transfer("bob", "t-1").source_owner_id == "alice"
    with pytest.raises(NotFound):
        transfers.transfer("mallory", "t-1")
    with pytest.raises(NotFound):
        transfers.transfers("bob", account_id="acc-a")
    assert transfers.transfers("mallory").items == []
