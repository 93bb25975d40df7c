"""The transfer saga end to end on memory adapters, run by the transfer engine: every path,
crashes between and inside rounds, the deadline, claims and their leases, batches.

The tests stop an engine between two rounds by running it in a process that dies there (an
injected fault: see crashes.py), as an engine killed there would leave its transfers; another
claim takes them on once the lease of the dead one ran out. Most tests run the engine phase
by phase (a transaction per step), where every state between two steps can be seen; the
tests marked `fused` run it as deployed: a batch's whole saga in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from backend.adapters.outbound.memory.work_rows import WorkRow
from backend.application.commands import AdvanceTransfers
from backend.application.errors import NotFound
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.metrics import COMMITTED, UNCHANGED
from backend.application.transfer_engine import FUSED_STEPS
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
#: The events each phase of a path appends, in order.
PHASES = {
    "completed": [2, 2, 2],
    "compensated": [2, 1, 2],
    "timed_out": [1, 1],
}
PHASED, FUSED = 1, FUSED_STEPS


@pytest.fixture
def bank() -> Bank:
    """The engine committing each phase on its own."""
    return Bank(steps_per_round=PHASED)


def types(bank: Bank, transfer_id: str) -> list[str]:
    return [event.type for event in bank.saga_events(transfer_id)]


def assert_untouched(bank: Bank, account_id: str, balance: int) -> None:
    account = bank.account(account_id)
    assert (account.balance, account.available, account.holds) == (balance, balance, {})


def settle(bank: Bank, transfer_id: str) -> list[str]:
    """One claim runs the transfer to its end; running again finds nothing. Its event types."""
    assert bank.run_until_quiet() == 1
    assert bank.transfer_state(transfer_id).status != "pending"
    assert bank.pending_work() == []
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


def test_transfer_moves_the_money_and_completes_in_one_claim(bank: Bank) -> None:
    source, target = bank.open(100), bank.open(owner="bob")
    transfer_id = bank.transfer(source, target, 30)
    assert settle(bank, transfer_id) == HAPPY_PATH
    assert bank.transfer_state(transfer_id).status == "completed"
    assert_untouched(bank, source, 70)
    assert_untouched(bank, target, 30)


def test_each_round_is_one_transaction_holding_the_step_and_its_record(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.finished.clear()
    bank.run_until_quiet()
    rounds = [f for f in bank.finished if f.command_type == "AdvanceTransfers"]
    assert [[e.type for e in f.events] for f in rounds] == [
        ["FundsHeld", "TransferFundsHeld"],
        ["MoneyCredited", "TransferTargetCredited"],
        ["HoldCaptured", "TransferCompleted"],
    ]
    assert {f.outcome for f in rounds} == {COMMITTED}
    assert types(bank, transfer_id) == HAPPY_PATH


def test_fused_the_whole_saga_of_a_batch_is_one_transaction() -> None:
    bank = Bank(steps_per_round=FUSED)
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    failing = bank.transfer(source, "no-such-account", 30)
    bank.finished.clear()
    bank.run_until_quiet()
    (round_,) = [f for f in bank.finished if f.command_type == "AdvanceTransfers"]
    assert round_.outcome == COMMITTED
    assert types(bank, transfer_id) == HAPPY_PATH
    assert types(bank, failing) == COMPENSATION_PATH
    assert_untouched(bank, source, 70)
    assert_untouched(bank, target, 30)


def test_hold_lowers_only_the_available_balance_while_pending(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_engine_after(2)  # held, and the transfer noted it
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


def test_the_engines_events_do_not_go_round_through_the_outbox(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.run_until_quiet()
    outboxed = {event.type for event in bank.app.db.outbox.values()}
    assert "TransferRequested" in outboxed  # the command's own event: pushed by the relay
    assert outboxed.isdisjoint(HAPPY_PATH[1:])
    assert bank.announced.runs == [([source, target], [transfer_id])]


@pytest.mark.parametrize(
    ("source_balance", "amount", "reason"),
    [(20, 30, "insufficient_funds"), (0, 30, "insufficient_funds")],
)
def test_transfer_beyond_available_funds_fails_without_moving_money(
    bank: Bank, source_balance: int, amount: int, reason: str
) -> None:
    source, target = bank.open(source_balance), bank.open()
    transfer_id = bank.transfer(source, target, amount)
    assert settle(bank, transfer_id) == ["TransferRequested", "TransferFailed"]
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", reason)
    assert_untouched(bank, source, source_balance)


def test_transfer_from_a_closed_account_fails(bank: Bank) -> None:
    source, target = bank.open(), bank.open()
    bank.close(source)
    transfer_id = bank.transfer(source, target, 30)
    assert settle(bank, transfer_id) == ["TransferRequested", "TransferFailed"]
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
    assert settle(bank, transfer_id) == COMPENSATION_PATH
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", reason)
    assert_untouched(bank, source, 100)


def test_target_that_is_another_kind_of_stream_is_not_found(bank: Bank) -> None:
    source, other = bank.open(100), bank.open()
    some_transfer = bank.transfer(source, other, 1)
    transfer_id = bank.transfer(source, some_transfer, 30)
    bank.run_until_quiet()
    assert types(bank, transfer_id) == COMPENSATION_PATH
    assert bank.transfer_state(transfer_id).failure_reason == "target_account_not_found"
    assert bank.transfer_state(some_transfer).status == "completed"


# -- the deadline: the transfer decides it ------------------------------------------------------


def test_a_transfer_first_run_after_its_deadline_times_out_without_holding(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.app.clock.advance(seconds=61)
    assert settle(bank, transfer_id) == TIMEOUT_PATH
    transfer = bank.transfer_state(transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", "timed_out")
    assert_untouched(bank, source, 100)


def test_a_hold_round_lost_before_the_deadline_times_out_after_it(bank: Bank) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_engine_after(1)  # the hold's round dies before the transfer noted it: rolled back
    assert types(bank, transfer_id) == ["TransferRequested"]
    bank.app.clock.advance(seconds=61)
    bank.run_until_quiet()
    assert types(bank, transfer_id) == TIMEOUT_PATH
    assert_untouched(bank, source, 100)
    assert_untouched(bank, target, 0)


@pytest.mark.parametrize("events", [2, 4], ids=["funds-held", "target-credited"])
def test_past_its_deadline_a_transfer_that_held_the_money_completes(
    bank: Bank, events: int
) -> None:
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.stop_engine_after(events)  # TransferFundsHeld is the point of no return
    bank.app.clock.advance(seconds=61)
    bank.run_until_quiet()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert types(bank, transfer_id) == HAPPY_PATH
    assert_untouched(bank, source, 70)
    assert_untouched(bank, target, 30)


# -- an engine that died: its claims run out, another claim finishes the transfer --------------


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


def _late(bank: Bank, transfer_id: str) -> str:
    """The transfer, once its deadline passed."""
    bank.app.clock.advance(seconds=61)
    return transfer_id


def _deaths(path: str, steps: int) -> list[tuple[int, int]]:
    """(events committed, events budget) for a death at each round boundary and at each
    append inside a round of the path, a round being `steps` phases."""
    phases = PHASES[path]
    rounds = [sum(phases[i : i + steps]) for i in range(0, len(phases), steps)]
    committed, deaths = 0, list[tuple[int, int]]()
    for appended in rounds:
        deaths.extend((committed, committed + inside) for inside in range(appended))
        committed += appended
    return deaths


CRASHES = [
    pytest.param(path, steps, committed, budget, id=f"{path}-{mode}-dies-at-{budget}-events")
    for path in SETUPS
    for mode, steps in (("phased", PHASED), ("fused", FUSED))
    for committed, budget in _deaths(path, steps)
]


@pytest.mark.parametrize(("path", "steps", "committed", "budget"), CRASHES)
def test_an_engine_killed_anywhere_leaves_its_transfer_to_the_next_claim(
    path: str, steps: int, committed: int, budget: int
) -> None:
    bank = Bank(steps_per_round=steps)
    setup, events, outcome = SETUPS[path]
    transfer_id = setup(bank)
    bank.stop_engine_after(budget)
    assert types(bank, transfer_id) == events[: committed + 1]  # whole rounds only
    assert bank.transfer_state(transfer_id).status == "pending"
    if steps == PHASED:  # leased by the dead engine until its lease ends
        assert bank.run_until_quiet() == 0
        bank.after_the_lease()
    assert bank.run_until_quiet() == 1  # fused: the claim died with its transaction
    transfer = bank.transfer_state(transfer_id)
    assert outcome in (transfer.status, transfer.failure_reason)
    assert types(bank, transfer_id) == events  # every step once, in order
    source = bank.account(transfer.source_account_id)
    assert (source.balance, source.holds) == (70 if outcome == "completed" else 100, {})
    assert bank.pending_work() == []


def test_a_transfer_that_keeps_failing_is_claimed_less_and_less_often(bank: Bank) -> None:
    with bank.app.db.lock:  # work for a transfer whose stream is missing: it can never go on
        now = bank.app.clock.now()
        bank.app.db.transfer_work["ghost"] = WorkRow("ghost", now, now)
    waits = []
    for _ in range(3):
        claimed = bank.claims.claim(bank.app.clock.now(), bank.engine.lease, 10)
        assert [c.transfer_id for c in claimed] == ["ghost"]
        bank.engine.run(claimed)  # logged, not raised: the others of a batch go on
        waits.append(bank.app.db.transfer_work["ghost"].ready_at - bank.app.clock.now())
        bank.app.clock.advance(seconds=waits[-1].total_seconds())
    assert waits == [bank.engine.lease, bank.engine.lease * 2, bank.engine.lease * 4]


# -- at least once: a transfer run again, or by two engines at once ----------------------------


SCENARIOS: dict[str, Callable[[Bank], str]] = {
    "completed": lambda bank: bank.transfer(bank.open(100), bank.open(), 30),
    "insufficient_funds": lambda bank: bank.transfer(bank.open(10), bank.open(), 30),
    "target_account_not_found": lambda bank: bank.transfer(bank.open(100), "nope", 30),
    "target_account_closed": lambda bank: bank.transfer(bank.open(100), _closed_target(bank), 30),
    "currency_mismatch": lambda bank: bank.transfer(bank.open(100), bank.open(0, "USD"), 30),
    "timed_out": lambda bank: _late(bank, bank.transfer(bank.open(100), bank.open(), 30)),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_running_an_ended_transfer_again_costs_one_read_and_appends_nothing(scenario: str) -> None:
    bank = Bank()
    transfer_id = SCENARIOS[scenario](bank)
    bank.run_until_quiet()
    head = bank.head()
    bank.finished.clear()
    assert bank.engine.drive(transfer_id) == bank.transfer_state(transfer_id).status
    assert [f.outcome for f in bank.finished if f.command_type == "AdvanceTransfers"] == [UNCHANGED]
    assert bank.head() == head


@pytest.mark.parametrize("scenario", ["completed", "target_account_not_found"])
def test_one_transfer_run_by_two_engines_at_once_ends_once(scenario: str) -> None:
    bank = Bank()
    transfer_id = SCENARIOS[scenario](bank)
    start, failures = threading.Barrier(2), list[BaseException]()

    def engine() -> None:
        start.wait()
        try:
            bank.engine.drive(transfer_id)  # no claim: as after a lease ran out too early
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    engines = [threading.Thread(target=engine) for _ in range(2)]
    for thread in engines:
        thread.start()
    for thread in engines:
        thread.join()
    assert failures == []
    expected = HAPPY_PATH if scenario == "completed" else COMPENSATION_PATH
    assert types(bank, transfer_id) == expected
    source = bank.account(bank.transfer_state(transfer_id).source_account_id)
    assert (source.balance, source.holds) == (70 if scenario == "completed" else 100, {})


# -- batches: many transfers per round ----------------------------------------------------------


def test_a_batch_of_transfers_runs_in_three_transactions(bank: Bank) -> None:
    sources = [bank.open(100, owner=f"payer-{i}") for i in range(20)]
    target = bank.open(owner="payee")
    transfers = [bank.transfer(s, target, 10, owner=f"payer-{i}") for i, s in enumerate(sources)]
    bank.finished.clear()
    assert bank.run_until_quiet() == 20
    assert [f.command_type for f in bank.finished] == ["AdvanceTransfers"] * 3
    assert {bank.transfer_state(t).status for t in transfers} == {"completed"}
    assert bank.account(target).balance == 200
    assert [bank.account(s).balance for s in sources] == [90] * 20
    ((accounts, announced),) = bank.announced.runs
    assert sorted(announced) == sorted(transfers)
    assert sorted(accounts) == sorted([*sources, target])


@pytest.mark.parametrize("steps", [PHASED, FUSED], ids=["phased", "fused"])
def test_transfers_of_one_batch_spend_one_account_in_order(steps: int) -> None:
    bank = Bank(steps_per_round=steps)
    source, target = bank.open(50), bank.open()
    first, second = bank.transfer(source, target, 30), bank.transfer(source, target, 30)
    bank.run_until_quiet()
    assert bank.transfer_state(first).status == "completed"
    assert bank.transfer_state(second).failure_reason == "insufficient_funds"
    assert_untouched(bank, source, 20)
    assert_untouched(bank, target, 30)


def test_a_broken_transfer_does_not_hold_up_the_rest_of_its_batch(bank: Bank) -> None:
    with bank.app.db.lock:
        now = bank.app.clock.now()
        bank.app.db.transfer_work["ghost"] = WorkRow("ghost", now, now)
    transfer_id = bank.transfer(bank.open(100), bank.open(), 30)
    bank.run_until_quiet()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert bank.pending_work() == ["ghost"]  # claimed again after its lease, and logged


def test_a_missing_transfer_is_not_found_by_its_round(bank: Bank) -> None:
    with pytest.raises(NotFound):
        bank.engine.bus.execute(AdvanceTransfers((("ghost", None),)), EventMetadata())
