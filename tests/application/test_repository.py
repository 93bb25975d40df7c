"""Repository: loads from the latest snapshot plus later events; saves with expected versions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.errors import ConcurrencyError
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, NewEvent, Snapshot
from backend.application.repository import Repository
from backend.domain.account import Account
from backend.domain.money import Money
from backend.domain.transfer import Transfer, TransferStage
from tests.fakes import InMemoryApp

META = EventMetadata(correlation_id="corr-1")


def eur(amount: int) -> Money:
    return Money(amount, "EUR")


def accounts(app: InMemoryApp, uow: InMemoryUnitOfWork) -> Repository[Account]:
    return Repository(Account, uow, default_codec(), app.clock, app.ids, app.snapshot_every)


def store(app: InMemoryApp, account: Account) -> None:
    with app.uow() as uow:
        accounts(app, uow).save(account, META)
        uow.commit()


def get(app: InMemoryApp, account_id: str = "acc-1") -> Account:
    with app.uow() as uow:
        account = accounts(app, uow).get(account_id)
    assert account is not None
    return account


def deposit(app: InMemoryApp, *amounts: int) -> Account:
    account = get(app)
    for amount in amounts:
        account.deposit(eur(amount))
    store(app, account)
    return account


@pytest.fixture
def app() -> InMemoryApp:
    app = InMemoryApp(snapshot_every=3)
    store(app, Account.open("acc-1", "owner-1", "Savings", "EUR"))
    return app


def test_get_returns_none_for_an_empty_stream(app: InMemoryApp) -> None:
    with app.uow() as uow:
        assert accounts(app, uow).get("nobody") is None


def test_save_appends_new_events_and_moves_the_version(app: InMemoryApp) -> None:
    account = get(app)
    account.deposit(eur(5))
    with app.uow() as uow:
        stored = accounts(app, uow).save(account, META)
        uow.commit()

    assert [(e.version, e.stream_type, e.type) for e in stored] == [
        (2, "account", "MoneyDeposited")
    ]
    assert account.version == 2
    assert (get(app).version, get(app).balance) == (2, 5)


def test_save_without_new_events_appends_nothing(app: InMemoryApp) -> None:
    with app.uow() as uow:
        assert accounts(app, uow).save(get(app), META) == []
    assert len(app.db.events) == 1


def test_save_of_a_stale_aggregate_is_a_concurrency_error(app: InMemoryApp) -> None:
    first, second = get(app), get(app)
    first.deposit(eur(1))
    store(app, first)
    second.deposit(eur(2))

    with pytest.raises(ConcurrencyError):
        store(app, second)
    assert get(app).balance == 1


def test_a_snapshot_is_taken_every_n_events(app: InMemoryApp) -> None:
    deposit(app, 1)  # version 2
    assert "acc-1" not in app.db.snapshots
    deposit(app, 2)  # version 3
    snapshot = app.db.snapshots["acc-1"]
    assert (snapshot.version, snapshot.stream_type, snapshot.state_version) == (3, "account", 1)
    assert snapshot.state["balance"] == 3
    deposit(app, 4)  # version 4
    assert app.db.snapshots["acc-1"].version == 3


def test_a_save_that_crosses_a_multiple_of_n_takes_a_snapshot_at_its_end(app: InMemoryApp) -> None:
    deposit(app, 1, 1, 1, 1)  # version 1 -> 5: crosses 3
    assert app.db.snapshots["acc-1"].version == 5
    deposit(app, 1, 1, 1, 1, 1, 1, 1)  # version 5 -> 12: crosses 6 and 9 and 12
    assert app.db.snapshots["acc-1"].version == 12


def test_get_loads_the_snapshot_and_only_the_events_after_it(app: InMemoryApp) -> None:
    deposit(app, 10, 20)  # snapshot at version 3, balance 30
    deposit(app, 5)  # version 4
    # Mark the snapshot: a load that used it shows the mark, one that replayed all would not.
    marked = dataclasses.replace(
        app.db.snapshots["acc-1"], state={**app.db.snapshots["acc-1"].state, "balance": 1030}
    )
    app.db.snapshots["acc-1"] = marked

    account = get(app)
    assert (account.version, account.balance) == (4, 1035)


def test_a_snapshot_of_an_old_state_version_is_ignored(app: InMemoryApp) -> None:
    deposit(app, 10, 20)
    old = app.db.snapshots["acc-1"]
    app.db.snapshots["acc-1"] = Snapshot(
        old.stream_id, old.stream_type, old.version, Account.STATE_VERSION - 1, {"shape": "old"}
    )

    account = get(app)
    assert (account.version, account.balance) == (3, 30)


def test_a_snapshot_of_another_stream_type_is_ignored(app: InMemoryApp) -> None:
    deposit(app, 10, 20)
    app.db.snapshots["acc-1"] = dataclasses.replace(app.db.snapshots["acc-1"], stream_type="x")
    assert get(app).balance == 30


def test_a_snapshot_is_part_of_the_transaction(app: InMemoryApp) -> None:
    account = get(app)
    account.deposit(eur(1))
    account.deposit(eur(1))
    with app.uow() as uow:
        accounts(app, uow).save(account, META)
        assert uow.snapshots.load("acc-1") is not None  # the unit of work sees its own writes
        uow.rollback()

    assert "acc-1" not in app.db.snapshots
    assert get(app).version == 1


def test_a_snapshot_restores_holds_and_settled_transfers(app: InMemoryApp) -> None:
    account = get(app)
    account.deposit(eur(100))
    account.place_hold("t-1", eur(30))
    account.place_hold("t-2", eur(20))
    account.release_hold("t-2")
    store(app, account)  # version 5: snapshot taken

    loaded = get(app)
    assert app.db.snapshots["acc-1"].version == 5
    assert (loaded.holds, loaded.available, loaded.settled_holds) == ({"t-1": 30}, 70, {"t-2"})
    assert loaded.place_hold("t-2", eur(1)) is False


def test_a_transfer_round_trips_with_its_deadline(app: InMemoryApp) -> None:
    transfer = Transfer.request(
        "t-1", "acc-1", "acc-2", eur(5), "ref", "owner-1", app.clock.now(), timedelta(seconds=30)
    )
    transfer.hold_placed(app.clock.now())
    with app.uow() as uow:
        repo = Repository(Transfer, uow, default_codec(), app.clock, app.ids, 2)
        repo.save(transfer, META)
        uow.commit()

    with app.uow() as uow:
        loaded = Repository(Transfer, uow, default_codec(), app.clock, app.ids, 2).get("t-1")
    assert loaded is not None
    assert app.db.snapshots["t-1"].stream_type == "transfer"
    assert (loaded.stage, loaded.deadline) == (TransferStage.FUNDS_HELD, transfer.deadline)


def test_an_id_of_another_kind_of_stream_is_not_found(app: InMemoryApp) -> None:
    with app.uow() as uow:
        assert Repository(Transfer, uow, default_codec(), app.clock, app.ids).get("acc-1") is None


def test_appended_lists_what_the_repository_stored(app: InMemoryApp) -> None:
    account = get(app)
    account.deposit(eur(1))
    with app.uow() as uow:
        repo = accounts(app, uow)
        stored = repo.save(account, META)
        assert repo.appended == stored
        assert stored[0].metadata == META
        assert stored[0].occurred_at == app.clock.now()


def test_an_old_event_version_in_the_store_is_upcast_on_load(app: InMemoryApp) -> None:
    v1 = NewEvent("ev-old", "MoneyDeposited", 1, {"amount": "10.50"}, META, app.clock.now())
    with app.uow() as uow:
        uow.events.append("acc-1", "account", 1, [v1])
        uow.commit()

    assert get(app).balance == 1050
    assert app.db.streams["acc-1"][-1].data == {"amount": "10.50"}  # never rewritten


def test_within_one_unit_of_work_an_aggregate_is_loaded_once_and_handed_out_again(
    app: InMemoryApp,
) -> None:
    with app.uow() as uow:
        repo = accounts(app, uow)
        loaded = repo.get("acc-1")
        assert loaded is not None
        loaded.deposit(eur(250))
        repo.save(loaded, META)
        again = repo.get("acc-1")
        assert again is loaded and (again.version, again.balance) == (2, 250)
        assert repo.get("missing") is None
    fresh = get(app)  # another unit of work reads the store: nothing was committed
    assert fresh is not loaded and (fresh.version, fresh.balance) == (1, 0)
