"""R8: the deterministic bank simulation (tests/reliability/simulation.py) over thousands of
seeded examples. A failure prints the shrunk rule sequence; `derandomize` makes every run of
`make test` explore the same examples, and the soak explores new ones each run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.reliability.simulation import BankSimulation
from tests.reliability.stacks import scaled, soak_seconds

EXAMPLES = scaled(2_000, per_soak_minute=6_000)


def test_the_bank_keeps_its_promises_under_simulated_faults() -> None:
    run_state_machine_as_test(
        BankSimulation,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=15,
            deadline=None,
            derandomize=not soak_seconds(),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )


def test_the_same_seed_replays_the_same_trace() -> None:
    runs = []
    for _ in range(2):
        BankSimulation.digests = []
        try:
            run_state_machine_as_test(
                BankSimulation,
                settings=settings(
                    max_examples=30, stateful_step_count=20, derandomize=True, database=None,
                    deadline=None,
                ),
            )  # fmt: skip
            runs.append(BankSimulation.digests)
        finally:
            BankSimulation.digests = None
    assert len(set(runs[0])) > 10, "the examples should differ from each other"
    assert runs[0] == runs[1]
