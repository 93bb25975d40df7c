"""A bank on memory adapters under random transfers, engines killed mid-round, transfers run
twice, leases running out and timeouts: money is conserved, nothing goes negative, every
transfer ends."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from backend.application import accounts
from backend.application.commands import Withdraw
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.transfer_work import MAX_LEASE
from backend.application.transfer_engine import FUSED_STEPS
from backend.domain import errors
from tests.application.crashes import ProcessDied
from tests.application.saga_harness import Bank

TRANSFERS = 250
START_BALANCE = 500
INFLOW = {"MoneyDeposited", "MoneyCredited"}
OUTFLOW = {"MoneyWithdrawn", "HoldCaptured"}


class Simulation:
    """One seeded run: a random mix of client commands and message deliveries."""

    def __init__(self, seed: int, steps_per_round: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (a seeded, replayable simulation)
        # Small batches: many interleavings.
        self.bank = Bank(batch_size=3, steps_per_round=steps_per_round)
        self.accounts = [self.bank.open(START_BALANCE, owner=f"u{i}") for i in range(6)]
        self.owners = {account: f"u{i}" for i, account in enumerate(self.accounts)}
        dollars = self.bank.open(START_BALANCE, "USD", owner="u9")
        closed = self.bank.open(owner="u8")
        self.bank.close(closed, owner="u8")
        self.targets = [*self.accounts, dollars, closed, "ghost-account"]
        self.withdrawn = 0
        self.transfers: list[str] = []

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.30 and len(self.transfers) < TRANSFERS:
            self.request_transfer()
        elif roll < 0.33:
            self.withdraw()
        elif roll < 0.36:
            self.bank.app.clock.advance(seconds=self.rng.uniform(0, 10))
        elif roll < 0.40:
            self.kill_an_engine()
        elif roll < 0.45 and self.transfers:
            self.bank.engine.drive(self.rng.choice(self.transfers))  # run again, unclaimed
        else:
            self.bank.engine.run_once()

    def request_transfer(self) -> None:
        source = self.rng.choice(self.accounts)
        target = self.rng.choice([t for t in self.targets if t != source])
        amount = self.rng.randint(1, 150)
        self.transfers.append(self.bank.transfer(source, target, amount, self.owners[source]))

    def withdraw(self) -> None:
        account = self.rng.choice(self.accounts)
        command = Withdraw(self.owners[account], account, self.rng.randint(1, 40))
        try:
            self.bank.runner.run(lambda ctx: accounts.withdraw(command, ctx), EventMetadata())
        except errors.InsufficientFunds:
            return
        self.withdrawn += command.amount

    def kill_an_engine(self) -> None:
        """An engine whose process dies at a random append of its claim (or not at all)."""
        with self.bank.crashes.dying_after(self.rng.randint(0, 6)):
            try:
                self.bank.engine.run_once()
            except ProcessDied:
                return

    def settle(self) -> None:
        """Quiescence: run every claim, let every lease (and deadline) run out, again."""
        for _ in range(5):
            self.bank.run_until_quiet()
            self.bank.app.clock.advance(seconds=MAX_LEASE.total_seconds())
        self.bank.run_until_quiet()

    def check_no_negative_balances(self) -> None:
        for account_id in self.targets[:-1]:
            account = self.bank.account(account_id)
            assert account.balance >= 0 and account.available >= 0, account_id
            assert account.available <= account.balance


@pytest.mark.parametrize("steps", [1, FUSED_STEPS], ids=["phased", "fused"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_transfers_conserve_money_and_all_end(seed: int, steps: int) -> None:
    sim = Simulation(seed, steps)
    while len(sim.transfers) < TRANSFERS:
        sim.step()
        sim.check_no_negative_balances()
    for _ in range(300):  # a tail of engine runs with the same faults
        sim.step()
        sim.check_no_negative_balances()
    sim.settle()

    bank = sim.bank
    statuses = Counter(bank.transfer_state(t).status for t in sim.transfers)
    assert statuses["pending"] == 0
    assert bank.pending_work() == []
    assert statuses["completed"] > 0 and statuses["failed"] > 0
    balances = {a: bank.account(a).balance for a in sim.accounts}
    assert sum(balances.values()) == len(sim.accounts) * START_BALANCE - sim.withdrawn
    for account_id, balance in balances.items():
        assert balance == sum_of_movements(bank, account_id)
        assert bank.account(account_id).holds == {}
    assert_each_completed_transfer_moved_once(bank, sim.transfers)


def sum_of_movements(bank: Bank, account_id: str) -> int:
    total = 0
    for event in bank.stream(account_id):
        if event.type in INFLOW:
            total += event.data["amount"]
        elif event.type in OUTFLOW:
            total -= event.data["amount"]
    return total


def assert_each_completed_transfer_moved_once(bank: Bank, transfer_ids: list[str]) -> None:
    for transfer_id in transfer_ids:
        moves = Counter(e.type for e in bank.saga_events(transfer_id) if e.type in INFLOW | OUTFLOW)
        completed = bank.transfer_state(transfer_id).status == "completed"
        expected = {"MoneyCredited": 1, "HoldCaptured": 1} if completed else {}
        assert moves == Counter(expected), transfer_id
