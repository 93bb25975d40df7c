"""The per-socket message budget (a token bucket): bursts up to a size, then a steady rate."""

from __future__ import annotations

from backend.adapters.inbound.ws.budget import MessageBudget


def test_a_burst_is_allowed_then_refused() -> None:
    budget = MessageBudget(rate=10, burst=3)
    assert [budget.take(100.0) for _ in range(4)] == [True, True, True, False]


def test_the_budget_refills_at_its_rate_up_to_the_burst() -> None:
    budget = MessageBudget(rate=10, burst=3)
    for _ in range(3):
        budget.take(100.0)

    # 0.25 s at 10/s: two and a half frames' worth
    assert [budget.take(100.25) for _ in range(3)] == [True, True, False]
    assert [budget.take(200.0) for _ in range(4)] == [True, True, True, False]  # never > burst


def test_a_steady_sender_within_the_rate_is_never_refused() -> None:
    budget = MessageBudget(rate=10, burst=3)
    assert all(budget.take(100.0 + i * 0.125) for i in range(1000))
