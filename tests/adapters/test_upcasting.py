"""Old event shapes are upcast on every read, and the stored rows are never rewritten."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from backend.application.event_codec import default_codec
from backend.application.event_hash import stored_event_hash
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.repository import Repository
from backend.domain.account import Account, MoneyDeposited
from tests.adapters.conftest import RawEvent, StoreBackend
from tests.fakes import FixedClock, SequentialIds

WHEN = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
META = EventMetadata(correlation_id="c-9", causation_id="k-9", user_id="u-9", request_id="r-9")


def store_v1_account(backend: StoreBackend) -> None:
    """AccountOpened (current shape) then a v1 MoneyDeposited, as the release before v2 wrote it."""
    opened = {"owner_id": "owner", "name": "Old", "currency": "EUR"}
    rows = [
        RawEvent("e-1", "acc-1", "account", 1, "AccountOpened", 1, opened, META, WHEN),
        RawEvent(
            "e-2", "acc-1", "account", 2, "MoneyDeposited", 1, {"amount": "10.50"}, META, WHEN
        ),
    ]
    for row in rows:
        backend.insert_raw(row)


def test_a_v1_money_deposited_reads_back_as_v2_with_its_metadata(
    store_backend: StoreBackend,
) -> None:
    store_v1_account(store_backend)
    with store_backend.uow() as uow:
        (stored,) = uow.events.read_stream("acc-1", after_version=1)
    event = default_codec().decode(stored.type, stored.schema_version, stored.data)
    assert event == MoneyDeposited(amount=1050, currency="EUR", reference=None)
    assert stored.metadata == META
    assert (stored.event_id, stored.occurred_at) == ("e-2", WHEN)


def test_an_account_with_v1_deposits_folds_to_the_right_balance(
    store_backend: StoreBackend,
) -> None:
    store_v1_account(store_backend)
    with store_backend.uow() as uow:
        repository = Repository(Account, uow, default_codec(), FixedClock(), SequentialIds())
        account = repository.get("acc-1")
    assert account is not None and (account.balance, account.currency) == (1050, "EUR")


def test_reading_never_rewrites_the_stored_v1_row(store_backend: StoreBackend) -> None:
    store_v1_account(store_backend)
    for _ in range(2):
        with store_backend.uow() as uow:
            Repository(Account, uow, default_codec(), FixedClock(), SequentialIds()).get("acc-1")
            uow.commit()
    with store_backend.uow() as uow:
        (stored,) = uow.events.read_stream("acc-1", after_version=1)
    assert (stored.schema_version, stored.data) == (1, {"amount": "10.50"})


def test_the_hash_covers_the_stored_v1_form_which_upcasting_leaves_alone(
    store_backend: StoreBackend,
) -> None:
    opened = {"owner_id": "owner", "name": "Old", "currency": "EUR"}
    events = [
        NewEvent("e-1", "AccountOpened", 1, opened, META, WHEN),
        NewEvent("e-2", "MoneyDeposited", 1, {"amount": "10.50"}, META, WHEN),
    ]
    with store_backend.uow() as uow:
        uow.events.append("acc-1", "account", 0, events)
        uow.commit()
    with store_backend.uow() as uow:
        first, deposit = uow.events.read_stream("acc-1")
    assert deposit.hash == stored_event_hash(first.hash, deposit)
    lifted = default_codec().upcast(deposit.type, deposit.schema_version, deposit.data)
    upcast = dataclasses.replace(deposit, schema_version=2, data=lifted)
    assert deposit.hash != stored_event_hash(first.hash, upcast)
