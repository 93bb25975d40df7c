"""Transfer admission: refuse at the door what the backlog would not finish in time."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from backend.application.admission import Backlogged, TransferAdmission
from backend.application.ports.transfer_work import BacklogSample

TIMEOUT = 60.0  # budget 0.5: the backlog may need up to 30 s


@dataclass
class FakeBacklog:
    """A backlog whose figures the test sets; records the cursors it is asked from."""

    pending: int = 0
    ended_since: int = 0
    head: int = 0
    asked: list[int | None] = field(default_factory=list)
    down: bool = False

    def sample(self, after: int | None) -> BacklogSample:
        if self.down:
            raise ConnectionError("database down")
        self.asked.append(after)
        ended, self.ended_since = (self.ended_since if after is not None else 0), 0
        self.head += 1
        return BacklogSample(self.pending, ended, self.head)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def admission(backlog: FakeBacklog, clock: Clock) -> TransferAdmission:
    return TransferAdmission(backlog, TIMEOUT, free_backlog=10, monotonic=clock)


def run_at_rate(admit: TransferAdmission, backlog: FakeBacklog, clock: Clock, rate: int) -> None:
    """Two seconds of samples, every quarter second, as `rate` transfers end per second."""
    for _ in range(8):
        backlog.ended_since = rate // 4
        clock.now += 0.25
        admit.check()


def test_a_small_backlog_is_admitted_whatever_the_rate() -> None:
    backlog, clock = FakeBacklog(pending=9), Clock()
    admit = admission(backlog, clock)
    run_at_rate(admit, backlog, clock, rate=0)  # nothing ends, yet nine are few enough


def test_a_backlog_that_drains_in_time_is_admitted_and_one_that_does_not_is_refused() -> None:
    backlog, clock = FakeBacklog(pending=50), Clock()
    admit = admission(backlog, clock)
    run_at_rate(admit, backlog, clock, rate=8)  # 50 pending at 8/s: 6.25 s, within 30 s
    backlog.pending = 400  # 50 s at 8/s
    clock.now += 0.25
    backlog.ended_since = 2
    with pytest.raises(Backlogged) as refused:
        admit.check()
    assert refused.value.retry_after == 21  # (400 + 1) / 8 - 30, rounded up


def test_nothing_is_refused_before_a_rate_was_measured() -> None:
    backlog, clock = FakeBacklog(pending=10_000), Clock()
    admit = admission(backlog, clock)
    admit.check()
    clock.now += 0.5
    admit.check()  # half a second of history: too short to judge by


def test_a_stalled_backlog_is_refused() -> None:
    backlog, clock = FakeBacklog(pending=100), Clock()
    admit = admission(backlog, clock)
    with pytest.raises(Backlogged) as refused:
        run_at_rate(admit, backlog, clock, rate=0)  # workers down: nothing ends
    assert refused.value.retry_after == TIMEOUT


def test_the_backlog_is_read_at_most_once_per_refresh_and_own_admissions_count_meanwhile() -> None:
    backlog, clock = FakeBacklog(pending=40), Clock()
    admit = admission(backlog, clock)
    run_at_rate(admit, backlog, clock, rate=4)  # 40 at 4/s: 10 s
    reads = len(backlog.asked)
    admitted = 0
    with pytest.raises(Backlogged):
        for _ in range(1000):
            admit.check()
            admitted += 1
    assert len(backlog.asked) == reads  # no time passed: the same sample served every check
    assert admitted == 79  # 41 pending (40 + one admitted) up to 120: 121 / 4 s > 30 s


def test_after_a_quiet_spell_the_count_starts_again_from_the_head() -> None:
    backlog, clock = FakeBacklog(pending=1), Clock()
    admit = admission(backlog, clock)
    run_at_rate(admit, backlog, clock, rate=4)
    clock.now += 3600
    admit.check()
    assert backlog.asked[0] is None and backlog.asked[1] == 1
    assert backlog.asked[-1] is None  # an hour of events is not scanned to count a rate


def test_a_failed_measurement_keeps_the_last_one() -> None:
    backlog, clock = FakeBacklog(pending=400), Clock()
    admit = admission(backlog, clock)
    with pytest.raises(Backlogged):
        run_at_rate(admit, backlog, clock, rate=8)
    backlog.down = True
    clock.now += 1
    with pytest.raises(Backlogged):
        admit.check()
