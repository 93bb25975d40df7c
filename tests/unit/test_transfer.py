"""The Transfer process: request, every stage path, idempotent steps, status and snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import errors
from backend.domain.money import MAX_AMOUNT, Money
from backend.domain.transfer import (
    FailureReason,
    Step,
    Transfer,
    TransferCompensationStarted,
    TransferCompleted,
    TransferFailed,
    TransferFundsHeld,
    TransferRequested,
    TransferStage,
    TransferTargetCredited,
)

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=30)
DEADLINE = NOW + TIMEOUT
LATE = DEADLINE + timedelta(microseconds=1)


def requested(amount: int = 500) -> Transfer:
    """A stored transfer (events collected) at stage `requested`."""
    transfer = Transfer.request(
        "t-1", "acc-src", "acc-dst", Money(amount, "EUR"), "rent", "owner-1", NOW, TIMEOUT
    )
    fresh = Transfer("t-1")
    fresh.replay(transfer.collect_events())
    return fresh


def stages(transfer: Transfer) -> list[type]:
    return [type(event) for event in transfer.collect_events()]


# -- request --------------------------------------------------------------------------------


def test_request_records_transfer_requested_with_a_deadline_of_now_plus_timeout() -> None:
    transfer = Transfer.request(
        "t-1", "acc-src", "acc-dst", Money(500, "EUR"), "rent", "owner-1", NOW, TIMEOUT
    )

    assert transfer.pending_events == (
        TransferRequested("acc-src", "acc-dst", 500, "EUR", "rent", "owner-1", DEADLINE),
    )
    assert (transfer.stage, transfer.status, transfer.deadline) == (
        TransferStage.REQUESTED,
        "pending",
        DEADLINE,
    )
    assert transfer.money == Money(500, "EUR")


def test_request_refuses_a_transfer_to_the_same_account() -> None:
    with pytest.raises(errors.SameAccount):
        Transfer.request("t-1", "acc", "acc", Money(1, "EUR"), None, "o", NOW, TIMEOUT)


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1])
def test_request_refuses_an_amount_out_of_range(amount: int) -> None:
    with pytest.raises(errors.InvalidAmount):
        Transfer.request("t-1", "a", "b", Money(amount, "EUR"), None, "o", NOW, TIMEOUT)


# -- stage paths ----------------------------------------------------------------------------


def test_happy_path_holds_credits_captures_and_completes() -> None:
    transfer = requested()

    assert transfer.hold_placed(NOW) is True
    after_hold = transfer.stage
    assert transfer.target_credited() is True
    after_credit = transfer.stage
    assert transfer.hold_captured() is True

    assert (after_hold, after_credit) == (TransferStage.FUNDS_HELD, TransferStage.TARGET_CREDITED)

    assert stages(transfer) == [TransferFundsHeld, TransferTargetCredited, TransferCompleted]
    assert (transfer.stage, transfer.status, transfer.failure_reason) == (
        TransferStage.COMPLETED,
        "completed",
        None,
    )


def test_a_hold_placed_exactly_at_the_deadline_still_counts() -> None:
    transfer = requested()
    assert transfer.hold_placed(DEADLINE) is True
    assert transfer.stage is TransferStage.FUNDS_HELD


def test_a_refused_hold_fails_the_transfer_with_nothing_to_undo() -> None:
    transfer = requested()
    assert transfer.hold_refused(FailureReason.INSUFFICIENT_FUNDS) is True

    assert transfer.pending_events == (TransferFailed(FailureReason.INSUFFICIENT_FUNDS),)
    assert (transfer.status, transfer.failure_reason) == ("failed", "insufficient_funds")
    assert transfer.must_release_hold is True


def test_a_refused_credit_compensates_then_fails_with_the_reason() -> None:
    transfer = requested()
    transfer.hold_placed(NOW)
    transfer.collect_events()

    assert transfer.credit_refused(FailureReason.TARGET_ACCOUNT_CLOSED) is True
    assert transfer.stage is TransferStage.COMPENSATING
    assert transfer.status == "pending"
    assert transfer.must_release_hold is True
    assert transfer.hold_released() is True

    assert transfer.collect_events() == [
        TransferCompensationStarted(FailureReason.TARGET_ACCOUNT_CLOSED),
        TransferFailed(FailureReason.TARGET_ACCOUNT_CLOSED),
    ]
    assert (transfer.status, transfer.failure_reason) == ("failed", "target_account_closed")


def test_time_out_before_the_hold_compensates_and_fails_as_timed_out() -> None:
    transfer = requested()

    assert transfer.time_out(LATE) is True
    assert transfer.must_release_hold is True
    assert transfer.hold_released() is True
    assert transfer.collect_events() == [
        TransferCompensationStarted(FailureReason.TIMED_OUT),
        TransferFailed(FailureReason.TIMED_OUT),
    ]
    assert transfer.failure_reason == FailureReason.TIMED_OUT


def test_time_out_does_nothing_before_the_deadline() -> None:
    transfer = requested()
    assert transfer.time_out(DEADLINE) is False
    assert transfer.pending_events == ()


def test_a_hold_placed_after_the_deadline_compensates_as_timed_out() -> None:
    transfer = requested()

    assert transfer.hold_placed(LATE) is True
    assert transfer.pending_events == (TransferCompensationStarted(FailureReason.TIMED_OUT),)
    assert transfer.stage is TransferStage.COMPENSATING
    assert transfer.must_release_hold is True
    assert transfer.target_credited() is False


def test_after_funds_held_time_out_does_nothing_and_the_transfer_goes_forward() -> None:
    transfer = requested()
    transfer.hold_placed(NOW)
    transfer.collect_events()

    assert transfer.time_out(LATE) is False
    assert transfer.pending_events == ()
    assert transfer.target_credited() is True
    assert transfer.hold_captured() is True
    assert transfer.status == "completed"


def test_after_the_target_credit_the_transfer_cannot_be_compensated() -> None:
    transfer = requested()
    transfer.hold_placed(NOW)
    transfer.target_credited()
    transfer.collect_events()

    assert transfer.time_out(LATE) is False
    assert transfer.credit_refused(FailureReason.TARGET_ACCOUNT_CLOSED) is False
    assert transfer.hold_released() is False
    assert transfer.pending_events == ()
    assert transfer.must_release_hold is False


# -- idempotency ----------------------------------------------------------------------------

STEPS: dict[str, Callable[[Transfer], bool]] = {
    "hold_placed": lambda t: t.hold_placed(NOW),
    "hold_refused": lambda t: t.hold_refused(FailureReason.INSUFFICIENT_FUNDS),
    "time_out": lambda t: t.time_out(LATE),
    "target_credited": lambda t: t.target_credited(),
    "credit_refused": lambda t: t.credit_refused(FailureReason.CURRENCY_MISMATCH),
    "hold_captured": lambda t: t.hold_captured(),
    "hold_released": lambda t: t.hold_released(),
}

#: The steps that bring a fresh transfer to where each step applies.
BEFORE: dict[str, tuple[str, ...]] = {
    "hold_placed": (),
    "hold_refused": (),
    "time_out": (),
    "target_credited": ("hold_placed",),
    "credit_refused": ("hold_placed",),
    "hold_captured": ("hold_placed", "target_credited"),
    "hold_released": ("hold_placed", "credit_refused"),
}


@pytest.mark.parametrize("step", STEPS)
def test_every_step_applied_twice_records_once(step: str) -> None:
    transfer = requested()
    for earlier in BEFORE[step]:
        STEPS[earlier](transfer)
    transfer.collect_events()

    assert STEPS[step](transfer) is True
    assert len(transfer.collect_events()) == 1
    state = transfer.snapshot_state()
    assert STEPS[step](transfer) is False
    assert transfer.pending_events == ()
    assert transfer.snapshot_state() == state


@pytest.mark.parametrize("step", STEPS)
def test_no_step_moves_a_finished_transfer(step: str) -> None:
    for finish in (("hold_refused",), ("hold_placed", "target_credited", "hold_captured")):
        transfer = requested()
        for earlier in finish:
            STEPS[earlier](transfer)
        transfer.collect_events()
        assert STEPS[step](transfer) is False
        assert transfer.pending_events == ()


# -- status and state -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "status", "must_release"),
    [
        (TransferStage.REQUESTED, "pending", False),
        (TransferStage.FUNDS_HELD, "pending", False),
        (TransferStage.TARGET_CREDITED, "pending", False),
        (TransferStage.COMPENSATING, "pending", True),
        (TransferStage.COMPLETED, "completed", False),
        (TransferStage.FAILED, "failed", True),
    ],
)
def test_status_and_must_release_hold_follow_the_stage(
    stage: TransferStage, status: str, must_release: bool
) -> None:
    transfer = requested()
    transfer.stage = stage
    assert (transfer.status, transfer.must_release_hold) == (status, must_release)


def test_replay_rebuilds_the_transfer() -> None:
    original = Transfer.request(
        "t-1", "acc-src", "acc-dst", Money(500, "EUR"), "rent", "owner-1", NOW, TIMEOUT
    )
    original.hold_placed(NOW)
    original.credit_refused(FailureReason.CURRENCY_MISMATCH)

    fresh = Transfer("t-1")
    fresh.replay(original.collect_events())

    assert fresh.version == 3
    assert fresh.snapshot_state() == original.snapshot_state()
    assert fresh.failure_reason == "currency_mismatch"


@pytest.mark.parametrize("path", [(), ("hold_placed",), ("hold_placed", "credit_refused")])
def test_snapshot_round_trips_through_json(path: tuple[str, ...]) -> None:
    transfer = requested()
    for step in path:
        STEPS[step](transfer)
    transfer.collect_events()

    state = json.loads(json.dumps(transfer.snapshot_state()))
    restored = Transfer.from_snapshot("t-1", 1 + len(path), state)

    assert restored.version == 1 + len(path)
    assert restored.snapshot_state() == transfer.snapshot_state()
    assert restored.deadline == DEADLINE
    assert restored.deadline.tzinfo is not None
    assert (restored.stage, restored.money) == (transfer.stage, Money(500, "EUR"))


def test_replay_refuses_an_event_of_another_aggregate() -> None:
    with pytest.raises(TypeError):
        Transfer("t-1").replay([object()])  # type: ignore[list-item]


# -- the state machine: what the transfer needs next ---------------------------------------------


def test_next_step_follows_the_stages_and_ends_with_none() -> None:
    transfer = requested()
    assert transfer.next_step(NOW) is Step.HOLD
    transfer.hold_placed(NOW)
    assert transfer.next_step(LATE) is Step.CREDIT  # after the hold the deadline is moot
    transfer.target_credited()
    assert transfer.next_step(LATE) is Step.CAPTURE
    transfer.hold_captured()
    assert transfer.next_step(NOW) is None


def test_next_step_of_a_requested_transfer_past_its_deadline_is_the_time_out() -> None:
    transfer = requested()
    assert transfer.next_step(DEADLINE) is Step.HOLD  # the deadline itself still counts
    assert transfer.next_step(LATE) is Step.TIME_OUT
    transfer.time_out(LATE)
    assert transfer.next_step(LATE) is Step.RELEASE
    transfer.hold_released()
    assert transfer.next_step(LATE) is None


def test_next_step_after_a_refused_credit_is_the_release() -> None:
    transfer = requested()
    transfer.hold_placed(NOW)
    transfer.credit_refused(FailureReason.TARGET_ACCOUNT_CLOSED)
    assert transfer.next_step(NOW) is Step.RELEASE
