"""The transfer saga end to end on memory adapters: every path, redelivery, lateness, sweeping.

A transfer's first job (the one delivering TransferRequested) runs its whole saga; the tests
stop a saga between two steps by running that job on the real driver in a process that dies
there (an injected fault: see crashes.py), as a job killed there would leave it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from backend.application.command_runner import CommandContext
from backend.application.errors import NotFound
from backend.application.messaging import MessageDispatcher, subscribe_transfer_process
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.metrics import UNCHANGED
from backend.application.transfers import TransferProcess
from backend.domain import errors
from backend.domain.money import Money
from tests.application.saga_harness import TIMEOUT, Bank

HAPPY_PATH = [
    "TransferRequested",
    "FundsHeld",
    "TransferFundsHeld",
    "MoneyCredited",
    "TransferTargetCredited",
    "HoldCaptured",
    "TransferCompleted",
]
COMPENSATION_PATH = [
    "TransferRequested",
    "FundsHeld",
    "TransferFundsHeld",
    "TransferCompensationStarted",
    "HoldReleased",
    "TransferFailed",
]
TIMEOUT_PATH = ["TransferRequested", "TransferCompensationStarted", "TransferFailed"]


@pytest.fixture
def bank() -> Bank:
    return Bank()


def types(bank: Bank, transfer_id: str) -> list[str]:
    return [event.type for event in bank.saga_events(transfer_id)]


def assert_untouched(bank: Bank, account_id: str, balance: int) -> None:
    account = bank.account(account_id)
    assert (account.balance, account.available, account.holds) == (balance, balance, {})


def settle_in_one_job(bank: Bank, transfer_id: str) -> list[str]:
    """Deliver the job that carries TransferRequested: it must end the transfer. Then the one
    job of the events that saga appended, which must append nothing. The saga's event types."""
    bank.deliver_next()
    assert bank.transfer_state(transfer_id).status != "pending"
    bank.relay_pending()
    assert len(bank.queue.batches) == 1  # the saga's later events, all in one job
    head = bank.head()
    bank.run_until_quiet()
    assert bank.head() == head
    return types(bank, transfer_id)


# -- requesting ------------------------------------------------------------------------------


def test_requested_transfer_is_pending_with_a_deadline(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer = bank.transfer_state(bank.transfer(source, target, 30))
    assert transfer.status == "pending"
    assert transfer.deadline == bank.app.clock.now() + TIMEOUT
    assert transfer.money == Money(30, "EUR")


def test_transfer_from_someone_elses_account_is_not_found(bank: Bank) -> None:
    source, target = bank.open(100, owner="alice"), bank.open()
    with pytest.raises(NotFound):
        bank.transfer(source, target, 30, owner="mallory")


def test_transfer_to_the_same_account_is_refused(bank: Bank) -> None:
    source = bank.open(100)
    with pytest.raises(errors.SameAccount):
        bank.transfer(source, source, 30)


@pytest.mark.parametrize("amount", [0, -5, 10**13])
def test_transfer_of_a_bad_amount_is_refused(bank: Bank, amount: int) -> None:
    source, target = bank.open(100), bank.open()
    with pytest.raises(errors.InvalidAmount):
        bank.transfer(source, target, amount)


# -- the paths ---------------------------------------------------------------------------------


def test_transfer_moves_the_money_and_completes_in_its_first_job(bank: Bank) -> None:
    source, target = bank.open(100), bank.open(owner="bob")
    transfer_id = bank.transfer(source, target, 30)
    assert settle_in_one_job(bank, transfer_id) == HAPPY_PATH
    assert bank.transfer_state(transfer_id).status == "completed"
    assert_untouched(bank, source, 70)
    assert_untouched(bank, target, 30)


def test_hold_lowers_only_the_available_balance_while_pending(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, 2)  # held, and the transfer noted it
    account = bank.account(source)
    assert (account.balance, account.available) == (100, 70)
    assert bank.transfer_state(transfer_id).status == "pending"


def test_every_saga_event_carries_the_transfer_as_correlation_and_its_cause(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.run_until_quiet()
    events = bank.saga_events(transfer_id)
    ids = [event.event_id for event in events]
    assert all(event.metadata.correlation_id == transfer_id for event in events)
    assert events[0].metadata.causation_id is None
    for index, event in enumerate(events[1:], start=1):
        assert event.metadata.causation_id == ids[index - 1]


@pytest.mark.parametrize(
    ("source_balance", "amount", "reason"),
    [(20, 30, "insufficient_funds"), (0, 30, "insufficient_funds")],
)
def test_transfer_beyond_available_funds_fails_without_moving_money(
    bank: Bank, source_balance: int, amount: int, reason: str
) -> None:
    source, target = bank.open(source_balance), bank.open()
    transfer_id = bank.transfer(source, target, amount)
    assert settle_in_one_job(bank, transfer_id) == ["TransferRequested", "TransferFailed"]
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", reason)
    assert_untouched(bank, source, source_balance)


def test_transfer_from_a_closed_account_fails(bank: Bank) -> None:
    source, target = bank.open(), bank.open()
    bank.close(source)
    transfer_id = bank.transfer(source, target, 30)
    assert settle_in_one_job(bank, transfer_id) == ["TransferRequested", "TransferFailed"]
    assert bank.transfer_state(transfer_id).failure_reason == "source_account_closed"


def _closed_target(bank: Bank) -> str:
    target = bank.open(owner="bob")
    bank.close(target, owner="bob")
    return target


TARGETS: dict[str, Callable[[Bank], str]] = {
    "target_account_not_found": lambda bank: "no-such-account",
    "target_account_closed": _closed_target,
    "currency_mismatch": lambda bank: bank.open(currency="USD"),
}


@pytest.mark.parametrize("reason", sorted(TARGETS))
def test_refused_credit_releases_the_hold_and_fails(bank: Bank, reason: str) -> None:
    source, target = bank.open(100), TARGETS[reason](bank)
    transfer_id = bank.transfer(source, target, 30)
    assert settle_in_one_job(bank, transfer_id) == COMPENSATION_PATH
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", reason)
    assert_untouched(bank, source, 100)


def test_target_that_is_another_kind_of_stream_is_not_found(bank: Bank) -> None:
    source, other = bank.open(100), bank.open()
    some_transfer = bank.transfer(source, other, 1)
    transfer_id = bank.transfer(source, some_transfer, 30)
    assert settle_in_one_job(bank, transfer_id) == COMPENSATION_PATH
    assert bank.transfer_state(transfer_id).failure_reason == "target_account_not_found"
    assert bank.transfer_state(some_transfer).status == "completed"


# -- the deadline ------------------------------------------------------------------------------


def test_hold_step_after_the_deadline_times_out_without_holding(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.app.clock.advance(seconds=61)
    assert settle_in_one_job(bank, transfer_id) == TIMEOUT_PATH
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", "timed_out")
    assert_untouched(bank, source, 100)


def test_hold_confirmed_after_the_deadline_is_released_and_times_out(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, 1)  # the hold is placed in time...
    bank.app.clock.advance(seconds=61)  # ...and the job dies before the transfer noted it
    bank.run_until_quiet()  # TransferRequested and FundsHeld, late
    assert bank.transfer_state(transfer_id).failure_reason == "timed_out"
    assert types(bank, transfer_id) == [
        "TransferRequested",
        "FundsHeld",
        "TransferCompensationStarted",
        "HoldReleased",
        "TransferFailed",
    ]
    assert_untouched(bank, source, 100)
    assert_untouched(bank, target, 0)


def test_transfer_past_its_deadline_after_the_hold_confirmation_completes(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, 2)  # TransferFundsHeld: the point of no return
    bank.app.clock.advance(seconds=61)
    bank.run_until_quiet()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert types(bank, transfer_id) == HAPPY_PATH
    assert_untouched(bank, target, 30)


def test_transfer_past_its_deadline_after_the_credit_completes(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, 4)  # hold, confirm, credit, confirm
    assert bank.transfer_state(transfer_id).stage == "target_credited"
    bank.app.clock.advance(seconds=61)
    assert bank.sweeper.sweep_once() == 1
    bank.run_until_quiet()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert types(bank, transfer_id) == HAPPY_PATH
    assert_untouched(bank, source, 70)
    assert_untouched(bank, target, 30)


# -- sweeping: messages lost (an in-process queue died with its process) -----------------------


@pytest.mark.parametrize(
    ("taken", "status", "source_balance"),
    [
        (0, "failed", 100),
        (1, "failed", 100),
        (2, "completed", 70),
        (3, "completed", 70),
        (4, "completed", 70),
        (5, "completed", 70),
    ],
    ids=["requested", "hold-placed", "funds-held", "credited", "target-credited", "captured"],
)
def test_sweeper_ends_a_transfer_whose_messages_were_lost(
    bank: Bank, taken: int, status: str, source_balance: int
) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, taken)  # then the process dies with its queue
    bank.drop_messages()
    bank.app.clock.advance(seconds=61)
    assert bank.sweeper.sweep_once() == 1
    assert bank.transfer_state(transfer_id).status == status
    assert_untouched(bank, source, source_balance)
    assert bank.deadlines.overdue(bank.app.clock.now()) == []


def test_sweeper_leaves_transfers_within_their_deadline_alone(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    bank.transfer(source, target, 30)
    bank.drop_messages()
    bank.app.clock.advance(seconds=59)
    assert bank.deadlines.overdue(bank.app.clock.now()) == []
    assert bank.sweeper.sweep_once() == 0


def test_sweeper_ends_a_compensation_whose_messages_were_lost(bank: Bank) -> None:
    source = bank.open(100)
    transfer_id = bank.transfer(source, "no-such-account", 30)
    bank.stop_saga_after(transfer_id, 3)  # hold, confirm, credit refused
    assert bank.transfer_state(transfer_id).stage == "compensating"
    bank.drop_messages()
    bank.app.clock.advance(seconds=61)
    assert bank.sweeper.sweep_once() == 1
    assert bank.transfer_state(transfer_id).failure_reason == "target_account_not_found"
    assert types(bank, transfer_id) == COMPENSATION_PATH
    assert_untouched(bank, source, 100)


def test_late_messages_after_a_sweep_change_nothing(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_saga_after(transfer_id, 1)  # hold placed; the job dies there
    bank.app.clock.advance(seconds=61)
    assert bank.sweeper.sweep_once() == 1  # times out and gives the hold back
    head = bank.head()
    delivered = bank.run_until_quiet()  # the late messages, and the sweep's own events
    assert {"TransferRequested", "FundsHeld"} <= {e.type for e in delivered}
    assert bank.transfer_state(transfer_id).failure_reason == "timed_out"
    assert_untouched(bank, source, 100)
    assert [e.type for e in bank.app.db.events[head:]] == []


def test_hold_placed_after_the_transfer_failed_is_given_back(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.drop_messages()
    bank.app.clock.advance(seconds=61)
    bank.sweeper.sweep_once()  # nothing held yet: fails at once
    assert bank.transfer_state(transfer_id).status == "failed"

    def stale_hold_step(ctx: CommandContext) -> None:
        # A hold step that read the transfer while it was still requested, committing late.
        account = ctx.accounts.get(source)
        assert account is not None
        account.place_hold(transfer_id, Money(30, "EUR"))
        ctx.accounts.save(account, ctx.metadata)

    bank.runner.run(stale_hold_step, EventMetadata())
    bank.run_until_quiet()
    assert_untouched(bank, source, 100)
    assert types(bank, transfer_id)[-2:] == ["FundsHeld", "HoldReleased"]


# -- a job that died between two steps: any later message of the transfer finishes it ---------


def _late(bank: Bank, transfer_id: str) -> str:
    """The transfer, once its deadline passed."""
    bank.app.clock.advance(seconds=61)
    return transfer_id


SETUPS: dict[str, tuple[Callable[[Bank], str], list[str], str]] = {
    "completed": (
        lambda bank: bank.transfer(bank.open(100), bank.open(), 30),
        HAPPY_PATH,
        "completed",
    ),
    "compensated": (
        lambda bank: bank.transfer(bank.open(100), "nope", 30),
        COMPENSATION_PATH,
        "target_account_not_found",
    ),
    "timed_out": (
        lambda bank: _late(bank, bank.transfer(bank.open(100), bank.open(), 30)),
        TIMEOUT_PATH,
        "timed_out",
    ),
}


CRASHES = [
    pytest.param(path, taken, redelivered, id=f"{path}-after-{taken}-steps-{events[redelivered]}")
    for path, (_, events, _) in SETUPS.items()
    for taken in range(len(events) - 1)  # each step appends the next event of its path
    for redelivered in range(taken + 1)
]


@pytest.mark.parametrize(("path", "taken", "redelivered"), CRASHES)
def test_a_saga_stopped_between_two_steps_ends_on_any_of_its_messages(
    path: str, taken: int, redelivered: int
) -> None:
    bank = Bank()
    setup, events, outcome = SETUPS[path]
    transfer_id = setup(bank)
    bank.stop_saga_after(transfer_id, taken)
    assert types(bank, transfer_id) == events[: taken + 1]
    assert bank.transfer_state(transfer_id).status == "pending"
    message = bank.saga_events(transfer_id)[redelivered]
    bank.dispatcher.dispatch([message])  # only this one: the others may never come again
    transfer = bank.transfer_state(transfer_id)
    assert outcome in (transfer.status, transfer.failure_reason)
    assert types(bank, transfer_id) == events  # every step once, in order
    source = bank.account(bank.transfer_state(transfer_id).source_account_id)
    assert (source.balance, source.holds) == (70 if outcome == "completed" else 100, {})


# -- at least once: every message delivered twice, late, or in any order ----------------------


SCENARIOS: dict[str, Callable[[Bank], str]] = {
    "completed": lambda bank: bank.transfer(bank.open(100), bank.open(), 30),
    "insufficient_funds": lambda bank: bank.transfer(bank.open(10), bank.open(), 30),
    "target_account_not_found": lambda bank: bank.transfer(bank.open(100), "nope", 30),
    "target_account_closed": lambda bank: bank.transfer(bank.open(100), _closed_target(bank), 30),
    "currency_mismatch": lambda bank: bank.transfer(bank.open(100), bank.open(0, "USD"), 30),
    "timed_out": lambda bank: _late(bank, bank.transfer(bank.open(100), bank.open(), 30)),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_only_the_first_job_appends_and_every_job_twice_changes_nothing(scenario: str) -> None:
    bank = Bank(batch_size=1)  # one event per job
    transfer_id = SCENARIOS[scenario](bank)
    appending: list[str] = []
    bank.relay_pending()
    while bank.queue.batches:
        batch = bank.queue.batches.pop(0)
        head = bank.head()
        bank.dispatcher.dispatch(batch)
        if bank.head() != head:
            appending.append(batch[0].type)
        head = bank.head()
        bank.dispatcher.dispatch(batch)
        assert bank.head() == head, f"redelivered {batch[0].type} appended events"
        bank.relay_pending()
    assert appending == ["TransferRequested"]
    assert bank.transfer_state(transfer_id).status != "pending"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_redelivering_the_whole_saga_afterwards_changes_nothing(scenario: str) -> None:
    bank = Bank()
    transfer_id = SCENARIOS[scenario](bank)
    delivered = bank.run_until_quiet()
    head = bank.head()
    bank.dispatcher.dispatch(delivered)
    bank.dispatcher.dispatch(list(reversed(delivered)))
    assert bank.head() == head
    assert bank.transfer_state(transfer_id).status != "pending"


def late_message_costs(bank: Bank, dispatcher: MessageDispatcher, transfer_id: str) -> list[int]:
    """Per saga event of an ended transfer delivered late: the transactions it cost (none of
    which may append)."""
    costs = []
    for event in bank.saga_events(transfer_id):
        bank.finished.clear()
        dispatcher.dispatch([event])
        assert {f.outcome for f in bank.finished} <= {UNCHANGED}, event.type
        costs.append(len(bank.finished))
    return costs


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_late_message_of_an_ended_transfer_costs_at_most_one_read(scenario: str) -> None:
    bank = Bank()
    transfer_id = SCENARIOS[scenario](bank)
    bank.run_until_quiet()
    failed = bank.transfer_state(transfer_id).status == "failed"
    # A FundsHeld of a failed transfer always looks for a hold to give back on the source.
    check = [int(failed and e.type == "FundsHeld") for e in bank.saga_events(transfer_id)]
    # The process that saw the transfer end reads nothing more.
    assert late_message_costs(bank, bank.dispatcher, transfer_id) == check
    # Another process (another worker) reads it once, on its first message (the request).
    elsewhere = MessageDispatcher()
    subscribe_transfer_process(elsewhere, TransferProcess(bank.runner))
    assert bank.saga_events(transfer_id)[0].type == "TransferRequested"
    assert late_message_costs(bank, elsewhere, transfer_id) == [1, *check[1:]]


@pytest.mark.parametrize("scenario", ["completed", "target_account_not_found"])
def test_transfer_requested_run_by_two_workers_at_once_ends_once(scenario: str) -> None:
    bank = Bank()
    transfer_id = SCENARIOS[scenario](bank)
    bank.relay_pending()
    job = bank.queue.batches.pop(0)
    start, failures = threading.Barrier(2), list[Exception]()

    def worker() -> None:
        start.wait()
        try:
            bank.dispatcher.dispatch(job)
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert failures == []
    expected = HAPPY_PATH if scenario == "completed" else COMPENSATION_PATH
    assert types(bank, transfer_id) == expected
    source = bank.account(bank.transfer_state(transfer_id).source_account_id)
    assert (source.balance, source.holds) == (70 if scenario == "completed" else 100, {})
