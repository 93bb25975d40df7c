"""The demo data set: a user with three accounts, three months of history and some transfers.

History is made by running the real commands (open, deposit, withdraw, request a transfer and
drive its saga) with a clock that the seeder sets to each moment of the last 90 days in turn,
so every event, read model and chart shows believable months, not one burst of "now". Main
gets more than one page (50) of transactions, so the web app shows `Load more`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal, TypeVar

from backend.application.command_bus import CommandBus
from backend.application.commands import Command, Deposit, OpenAccount, RequestTransfer, Withdraw
from backend.application.identity import IdentityService
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.users import User
from backend.application.queries import AccountQueries
from backend.application.transfer_engine import TransferEngine

T = TypeVar("T")

DEMO_EMAIL: Final = "demo@hexbank.local"
DEMO_PASSWORD: Final = "demo-password-123"  # noqa: S105 - the published demo login
DEMO_NAME: Final = "Demo User"
HISTORY_DAYS: Final = 90

#: Account key → (name, currency).
DEMO_ACCOUNTS: Final = {
    "main": ("Main", "EUR"),
    "savings": ("Savings", "EUR"),
    "travel": ("Travel", "USD"),
}

EntryKind = Literal["open", "deposit", "withdrawal", "transfer"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One dated thing the demo person did; amounts in minor units."""

    days_ago: int
    hour: int
    kind: EntryKind
    account: str
    amount: int = 0
    reference: str | None = None
    target: str | None = None


_main, _savings, _travel = "main", "savings", "travel"
_d: EntryKind = "deposit"
_w: EntryKind = "withdrawal"
_t: EntryKind = "transfer"

_OPENING: Final = (
    Entry(90, 8, "open", _main), Entry(90, 8, "open", _savings), Entry(90, 8, "open", _travel),
    Entry(90, 10, _d, _savings, 500_000, "Opening deposit"),
    Entry(90, 11, _d, _travel, 120_000, "Travel fund"),
)  # fmt: skip


def routine_month(start: int) -> tuple[Entry, ...]:
    """A month of everyday life from `start` days ago: pay, rent, savings, bills, groceries
    every four days and lunches every three (amounts vary, deterministically)."""
    fixed = (
        Entry(start, 9, _d, _main, 250_000, "Salary"),
        Entry(start - 1, 12, _w, _main, 95_000, "Rent"),
        Entry(start - 2, 9, _t, _main, 30_000, "Monthly savings", _savings),
        Entry(start - 6, 10, _w, _main, 2_999, "Phone bill"),
        Entry(start - 12, 10, _w, _main, 6_240, "Electricity"),
        Entry(start - 20, 14, _w, _main, 1_890, "Books"),
        Entry(start - 27, 9, _d, _savings, 395, "Interest"),
    )
    groceries = tuple(
        Entry(start - day, 18, _w, _main, 5_000 + (day * 737) % 4_000, "Groceries")
        for day in range(3, 30, 4)
    )
    lunches = tuple(
        Entry(start - day, 12, _w, _main, 1_150 + (day * 311) % 900, "Lunch")
        for day in range(4, 30, 3)
    )
    return fixed + groceries + lunches


#: The last month, told entry by entry (the failed transfer, the refund, the trip).
_LAST_MONTH: Final = (
    Entry(30, 9, _d, _main, 250_000, "Salary"),
    Entry(29, 18, _w, _main, 6_420, "Groceries"),
    Entry(28, 12, _w, _main, 95_000, "Rent"),
    Entry(27, 9, _t, _main, 30_000, "Monthly savings", _savings),
    Entry(25, 17, _w, _main, 4_250, "Pharmacy"),
    Entry(23, 18, _w, _main, 8_735, "Groceries"),
    Entry(21, 20, _w, _main, 3_200, "Cinema"),
    # Fails on purpose (EUR into a USD account): the demo shows a failed transfer too.
    Entry(20, 10, _t, _main, 20_000, "Trip budget", _travel),
    Entry(19, 15, _w, _travel, 34_000, "Hotel"),
    Entry(18, 13, _d, _main, 12_000, "Refund"),
    Entry(18, 20, _w, _travel, 8_550, "Dinner"),
    Entry(17, 11, _w, _travel, 2_400, "Museum"),
    Entry(16, 18, _w, _main, 7_810, "Groceries"),
    Entry(14, 8, _w, _main, 15_999, "Train tickets"),
    Entry(13, 9, _t, _main, 30_000, "Monthly savings", _savings),
    Entry(11, 18, _w, _main, 5_640, "Groceries"),
    Entry(10, 9, _d, _travel, 50_000, "Top-up"),
    Entry(9, 12, _w, _main, 2_450, "Lunch"),
    Entry(7, 18, _w, _main, 9_120, "Groceries"),
    Entry(5, 10, _t, _savings, 20_000, "Back from savings", _main),
    Entry(4, 21, _w, _main, 6_000, "Concert"),
    Entry(3, 7, _w, _travel, 12_900, "Seat upgrade"),
    Entry(2, 18, _w, _main, 8_300, "Groceries"),
    Entry(1, 9, _d, _savings, 412, "Interest"),
    Entry(1, 16, _d, _main, 4_500, "Sold a bike"),
)  # fmt: skip

#: What the demo person did over three months, oldest first (the seeder runs it in this order).
DEMO_SCHEDULE: Final[tuple[Entry, ...]] = tuple(
    sorted(
        _OPENING + routine_month(89) + routine_month(59) + _LAST_MONTH,
        key=lambda entry: (-entry.days_ago, entry.hour),
    )
)


class SteppingClock:
    """The real time, except while the seeder holds it at a moment of the past."""

    def __init__(self, real: Clock) -> None:
        self._real = real
        self._held: datetime | None = None

    def now(self) -> datetime:
        return self._held or self._real.now()

    @contextmanager
    def held_at(self, moment: datetime) -> Iterator[None]:
        self._held = moment
        try:
            yield
        finally:
            self._held = None


@dataclass(slots=True)
class DemoOutcome:
    """What a seeding run did: `created` is False when the demo data was already there."""

    user_id: str
    created: bool
    account_ids: dict[str, str] = field(default_factory=dict)
    transfer_statuses: dict[str, str | None] = field(default_factory=dict)


@dataclass
class DemoSeeder:
    """Creates the demo user and its month of history once; later runs change nothing."""

    identity: IdentityService
    bus: CommandBus
    engine: TransferEngine
    account_queries: AccountQueries
    clock: SteppingClock
    schedule: tuple[Entry, ...] = DEMO_SCHEDULE

    def seed(self) -> DemoOutcome:
        midnight = self.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.clock.held_at(midnight - timedelta(days=HISTORY_DAYS)):
            user = self._user()
        if self.account_queries.accounts(user.id, limit=1).items:
            return DemoOutcome(user.id, created=False)
        outcome = DemoOutcome(user.id, created=True)
        for entry in self.schedule:
            # Whole days before today's midnight: every moment is in the past, in order.
            moment = midnight - timedelta(days=entry.days_ago) + timedelta(hours=entry.hour)
            with self.clock.held_at(moment):
                self._perform(entry, outcome)
        return outcome

    def _user(self) -> User:
        existing = self.identity.users.by_email(DEMO_EMAIL)
        return existing or self.identity.register(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)

    def _perform(self, entry: Entry, outcome: DemoOutcome) -> None:
        owner, ids = outcome.user_id, outcome.account_ids
        if entry.kind == "open":
            name, currency = DEMO_ACCOUNTS[entry.account]
            ids[entry.account] = self._run(owner, OpenAccount(owner, name, currency)).id
        elif entry.kind == "deposit":
            self._run(owner, Deposit(owner, ids[entry.account], entry.amount, entry.reference))
        elif entry.kind == "withdrawal":
            self._run(owner, Withdraw(owner, ids[entry.account], entry.amount, entry.reference))
        else:
            transfer_id = self._transfer(owner, entry, ids)
            outcome.transfer_statuses[transfer_id] = self.engine.drive(transfer_id)

    def _transfer(self, owner: str, entry: Entry, ids: dict[str, str]) -> str:
        target = ids[entry.target or ""]
        command = RequestTransfer(owner, ids[entry.account], target, entry.amount, entry.reference)
        return self._run(owner, command).id

    def _run(self, owner: str, command: Command[T]) -> T:
        return self.bus.execute(command, EventMetadata(user_id=owner))
