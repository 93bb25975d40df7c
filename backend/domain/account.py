"""The Account aggregate: balance, holds for transfers, and the events that change them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from backend.domain import errors
from backend.domain.aggregate import Aggregate
from backend.domain.events import DomainEvent
from backend.domain.money import Money, check_currency

MAX_NAME_LENGTH: Final[int] = 100


@dataclass(frozen=True, slots=True)
class AccountOpened(DomainEvent):
    owner_id: str
    name: str
    currency: str


@dataclass(frozen=True, slots=True)
class MoneyDeposited(DomainEvent):
    """v2: integer minor units with currency (v1 stored a decimal string amount)."""

    schema_version: ClassVar[int] = 2
    amount: int
    currency: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class MoneyWithdrawn(DomainEvent):
    amount: int
    currency: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class FundsHeld(DomainEvent):
    """Money reserved on the source of a transfer (the saga's semantic lock)."""

    transfer_id: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class HoldReleased(DomainEvent):
    """A transfer's hold given back (compensation); the balance never moved."""

    transfer_id: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class HoldCaptured(DomainEvent):
    """A transfer's held money leaves the source for good."""

    transfer_id: str
    amount: int
    currency: str
    counterparty_account_id: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class MoneyCredited(DomainEvent):
    """Money received by a transfer."""

    transfer_id: str
    amount: int
    currency: str
    counterparty_account_id: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class AccountClosed(DomainEvent):
    """The account closed for good (at zero balance with no holds)."""


ACCOUNT_EVENTS: Final[tuple[type[DomainEvent], ...]] = (
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    FundsHeld,
    HoldReleased,
    HoldCaptured,
    MoneyCredited,
    AccountClosed,
)


class Account(Aggregate):
    """A customer's account. Invariant: available = balance - holds is never below zero."""

    STREAM_TYPE: ClassVar[str] = "account"
    STATE_VERSION: ClassVar[int] = 1

    def __init__(self, account_id: str) -> None:
        super().__init__(account_id)
        self.owner_id = ""
        self.name = ""
        self.currency = ""
        self.balance = 0
        self.holds: dict[str, int] = {}
        self.closed = False
        # Transfer ids whose hold was settled (released or captured) or that credited us:
        # they make every transfer step idempotent under redelivery.
        self.settled_holds: set[str] = set()
        self.credits: set[str] = set()

    # -- commands -------------------------------------------------------------------------

    @classmethod
    def open(cls, account_id: str, owner_id: str, name: str, currency: str) -> Account:
        name = name.strip()
        if not 1 <= len(name) <= MAX_NAME_LENGTH:
            raise errors.InvalidAccountName(f"name must be 1 to {MAX_NAME_LENGTH} characters")
        account = cls(account_id)
        account._record(AccountOpened(owner_id, name, check_currency(currency)))
        return account

    def deposit(self, money: Money, reference: str | None = None) -> None:
        self._check_command(money)
        self._record(MoneyDeposited(money.amount, money.currency, reference))

    def withdraw(self, money: Money, reference: str | None = None) -> None:
        self._check_command(money)
        self._check_available(money)
        self._record(MoneyWithdrawn(money.amount, money.currency, reference))

    def place_hold(self, transfer_id: str, money: Money) -> bool:
        """Reserve money for a transfer; False when this transfer already had its hold."""
        if transfer_id in self.holds or transfer_id in self.settled_holds:
            return False
        self._check_command(money)
        self._check_available(money)
        self._record(FundsHeld(transfer_id, money.amount, money.currency))
        return True

    def release_hold(self, transfer_id: str) -> bool:
        """Give a transfer's hold back; False when there is no such hold (any more)."""
        amount = self.holds.get(transfer_id)
        if amount is None:
            return False
        self._record(HoldReleased(transfer_id, amount, self.currency))
        return True

    def capture_hold(
        self, transfer_id: str, target_account_id: str, reference: str | None = None
    ) -> bool:
        """Turn a transfer's hold into money gone; False when already captured."""
        amount = self.holds.get(transfer_id)
        if amount is None:
            return False
        self._record(HoldCaptured(transfer_id, amount, self.currency, target_account_id, reference))
        return True

    def credit(
        self,
        transfer_id: str,
        money: Money,
        source_account_id: str,
        reference: str | None = None,
    ) -> bool:
        """Receive a transfer; False when this transfer already credited the account."""
        if transfer_id in self.credits:
            return False
        self._check_command(money)
        self._record(
            MoneyCredited(transfer_id, money.amount, money.currency, source_account_id, reference)
        )
        return True

    def close(self) -> None:
        self._check_open()
        if self.balance != 0 or self.holds:
            raise errors.AccountNotEmpty(f"account {self.id} still holds money")
        self._record(AccountClosed())

    # -- queries --------------------------------------------------------------------------

    @property
    def held(self) -> int:
        return sum(self.holds.values())

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def status(self) -> str:
        return "closed" if self.closed else "open"

    # -- rules ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise errors.AccountClosed(f"account {self.id} is closed")

    def _check_command(self, money: Money) -> None:
        self._check_open()
        # Money itself may be zero or negative (a difference); a command's amount may not.
        Money.positive(money.amount, money.currency)
        if money.currency != self.currency:
            raise errors.CurrencyMismatch(
                f"account {self.id} holds {self.currency}, not {money.currency}"
            )

    def _check_available(self, money: Money) -> None:
        if money.amount > self.available:
            raise errors.InsufficientFunds(f"available {self.available} < {money.amount}")

    # -- state ----------------------------------------------------------------------------

    def _apply(self, event: DomainEvent) -> None:
        match event:
            case AccountOpened(owner_id=owner, name=name, currency=currency):
                self.owner_id, self.name, self.currency = owner, name, currency
            case MoneyDeposited(amount=amount):
                self.balance += amount
            case MoneyWithdrawn(amount=amount):
                self.balance -= amount
            case FundsHeld(transfer_id=tid, amount=amount):
                self.holds[tid] = amount
            case HoldReleased(transfer_id=tid):
                self.holds.pop(tid, None)
                self.settled_holds.add(tid)
            case HoldCaptured(transfer_id=tid, amount=amount):
                self.holds.pop(tid, None)
                self.settled_holds.add(tid)
                self.balance -= amount
            case MoneyCredited(transfer_id=tid, amount=amount):
                self.credits.add(tid)
                self.balance += amount
            case AccountClosed():
                self.closed = True
            case _:
                raise TypeError(f"Account cannot apply {type(event).__name__}")

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "owner_id": self.owner_id,
            "name": self.name,
            "currency": self.currency,
            "balance": self.balance,
            "holds": dict(self.holds),
            "closed": self.closed,
            "settled_holds": sorted(self.settled_holds),
            "credits": sorted(self.credits),
        }

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> Self:
        account = cls(aggregate_id)
        account.version = version
        account.owner_id, account.name = state["owner_id"], state["name"]
        account.currency, account.balance = state["currency"], state["balance"]
        account.holds = dict(state["holds"])
        account.closed = state["closed"]
        account.settled_holds = set(state["settled_holds"])
        account.credits = set(state["credits"])
        return account
