"""Idempotency keys on the command bus: the key's record is written in the command's own
transaction, a twin replays without running anything, a refusal is recorded and replayed like a
result, any other failure leaves no key behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.admission import Backlogged
from backend.application.command_bus import CommandBus
from backend.application.commands import Command, Deposit, OpenAccount, RequestTransfer, Withdraw
from backend.application.errors import NotFound, PreconditionFailed
from backend.application.event_codec import default_codec
from backend.application.handlers import KEYED_RESULTS, command_handlers
from backend.application.idempotency import (
    KEY_TTL,
    IdempotencyKey,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    is_replayed,
)
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.metrics import COMMITTED, REJECTED, UNCHANGED, FinishedCommand
from backend.application.projections import default_projections
from backend.application.projections.inline import inline_projector
from backend.domain.errors import InsufficientFunds
from tests.application.conftest import AccountOpener
from tests.fakes import InMemoryApp

META = EventMetadata(user_id="owner-1")
KEY = IdempotencyKey("owner-1", "key-1", "digest-1")


class CountingUnitsOfWork:
    """The memory app's unit-of-work factory, counting the transactions it opens."""

    def __init__(self, app: InMemoryApp) -> None:
        self.app, self.opened = app, 0

    def __call__(self) -> InMemoryUnitOfWork:
        self.opened += 1
        return self.app.uow()


@pytest.fixture
def units(memory_app: InMemoryApp) -> CountingUnitsOfWork:
    return CountingUnitsOfWork(memory_app)


@pytest.fixture
def bus(memory_app: InMemoryApp, units: CountingUnitsOfWork) -> CommandBus:
    bus = memory_app.bus()
    bus.uow_factory = units
    return bus


def deposit(account_id: str, amount: int = 100) -> Deposit:
    return Deposit("owner-1", account_id, amount)


def test_a_keyed_command_costs_one_transaction_and_its_twin_replays_without_running(
    bus: CommandBus,
    units: CountingUnitsOfWork,
    open_account: AccountOpener,
    memory_app: InMemoryApp,
) -> None:
    account_id = open_account()
    reports: list[FinishedCommand] = []
    bus.observers = (reports.append,)

    first = bus.execute_once(deposit(account_id), META, KEY)
    assert (first.replayed, units.opened) == (False, 1)
    twin = bus.execute_once(deposit(account_id), META, KEY)

    assert twin.replayed and twin.result == first.result
    assert units.opened == 2  # the replay's one read, and no second deposit
    assert [e.type for e in memory_app.db.streams[account_id]] == [
        "AccountOpened",
        "MoneyDeposited",
    ]
    assert [(r.command_type, r.outcome) for r in reports] == [
        ("Deposit", COMMITTED),
        ("Deposit", UNCHANGED),
    ]


def test_admission_is_asked_about_new_work_only(
    bus: CommandBus, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account()
    asked: list[str] = []

    def full() -> None:
        asked.append("asked")
        raise Backlogged(1)

    with pytest.raises(Backlogged):  # refused at the door: nothing runs, no key
        bus.execute_once(deposit(account_id), META, KEY, admit=full)
    first = bus.execute_once(deposit(account_id), META, KEY, admit=lambda: asked.append("asked"))
    twin = bus.execute_once(deposit(account_id), META, KEY, admit=full)  # a replay: not asked

    assert twin.replayed and twin.result == first.result
    assert asked == ["asked", "asked"]
    assert [e.type for e in memory_app.db.streams[account_id]] == [
        "AccountOpened",
        "MoneyDeposited",
    ]


def test_a_transfers_result_replays_with_its_times_and_owners(
    bus: CommandBus, open_account: AccountOpener
) -> None:
    bus.inline_projector = inline_projector(default_projections(default_codec()))
    source = open_account(balance=500)
    target = bus.execute(OpenAccount("owner-2", "Projected", "EUR"), META).id  # with a summary
    command = RequestTransfer("owner-1", source, target, 200, "rent")

    first = bus.execute_once(command, META, KEY)
    twin = bus.execute_once(command, META, KEY)

    assert twin.replayed and twin.result == first.result
    assert (first.result.status, first.result.target_owner_id) == ("pending", "owner-2")


def test_the_same_key_for_another_request_is_refused(
    bus: CommandBus, open_account: AccountOpener
) -> None:
    account_id = open_account()
    bus.execute_once(deposit(account_id), META, KEY)
    other = IdempotencyKey(KEY.user_id, KEY.key, "another-digest")
    with pytest.raises(IdempotencyKeyReused):
        bus.execute_once(deposit(account_id, 5), META, other)


def test_keys_are_scoped_per_user(bus: CommandBus, open_account: AccountOpener) -> None:
    mine, theirs = open_account(), open_account(owner_id="owner-2")
    bus.execute_once(deposit(mine), META, KEY)
    twin_key = IdempotencyKey("owner-2", KEY.key, KEY.fingerprint)
    outcome = bus.execute_once(Deposit("owner-2", theirs, 100), META, twin_key)
    assert not outcome.replayed


def test_a_refused_command_records_its_refusal_and_its_twin_gets_it_again(
    bus: CommandBus,
    units: CountingUnitsOfWork,
    open_account: AccountOpener,
    memory_app: InMemoryApp,
) -> None:
    account_id = open_account()
    withdrawal = Withdraw("owner-1", account_id, 50)
    reports: list[FinishedCommand] = []
    bus.observers = (reports.append,)
    with pytest.raises(InsufficientFunds) as first:
        bus.execute_once(withdrawal, META, KEY)
    assert not is_replayed(first.value) and units.opened == 1  # one transaction, as for success
    assert list(memory_app.db.idempotency_keys.records) == [(KEY.user_id, KEY.key)]

    bus.execute(deposit(account_id), META)  # the withdrawal would succeed now: it is not run
    with pytest.raises(InsufficientFunds) as twin:
        bus.execute_once(withdrawal, META, KEY)
    assert is_replayed(twin.value) and str(twin.value) == str(first.value)
    assert [e.type for e in memory_app.db.streams[account_id]] == [
        "AccountOpened",
        "MoneyDeposited",
    ]
    assert [r.outcome for r in reports] == [REJECTED, COMMITTED, REJECTED]
    with pytest.raises(IdempotencyKeyReused):  # another request with the key: as for success
        bus.execute_once(deposit(account_id), META, IdempotencyKey("owner-1", KEY.key, "other"))


def test_an_unknown_account_is_a_recorded_refusal_too(bus: CommandBus) -> None:
    with pytest.raises(NotFound):
        bus.execute_once(deposit("no-such-account"), META, KEY)
    with pytest.raises(NotFound) as twin:
        bus.execute_once(deposit("no-such-account"), META, KEY)
    assert is_replayed(twin.value)


def test_a_failed_precondition_leaves_no_key_and_the_key_can_run_again(
    bus: CommandBus, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account()  # at version 1
    stale = Deposit("owner-1", account_id, 100, expected_version=0)
    with pytest.raises(PreconditionFailed):
        bus.execute_once(stale, META, KEY)
    assert memory_app.db.idempotency_keys.records == {}

    fresh = Deposit("owner-1", account_id, 100, expected_version=1)
    outcome = bus.execute_once(fresh, META, KEY)
    assert not outcome.replayed and outcome.result.balance_after == 100


def test_a_key_held_by_an_open_transaction_is_in_use(
    bus: CommandBus, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account()
    with memory_app.uow() as running:
        assert running.idempotency_keys.hold(KEY.user_id, KEY.key) is None
        with pytest.raises(IdempotencyKeyInUse) as refused:
            bus.execute_once(deposit(account_id), META, KEY)
    assert refused.value.retry_after == 1
    assert not bus.execute_once(deposit(account_id), META, KEY).replayed  # free once it ended


def test_an_expired_key_runs_its_command_again(
    bus: CommandBus, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account()
    bus.execute_once(deposit(account_id), META, KEY)
    memory_app.clock.advance(seconds=KEY_TTL.total_seconds())
    outcome = bus.execute_once(deposit(account_id), META, KEY)
    assert not outcome.replayed and outcome.result.balance_after == 200


def test_every_command_type_has_exactly_one_handler() -> None:
    from backend.application import commands

    declared = {
        value
        for value in vars(commands).values()
        if isinstance(value, type) and issubclass(value, Command) and not value.__subclasses__()
    }
    assert set(command_handlers(timedelta(seconds=1))) == declared


def test_keyed_results_are_the_results_of_the_keyed_commands() -> None:
    sample: dict[str, Any] = {"type": "TransactionView", "data": {"id": "t"}}
    with pytest.raises(TypeError):  # a record must carry every field of its type
        KEYED_RESULTS.decode(sample)
