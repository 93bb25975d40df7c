"""Money as integer minor units of one currency; floats never enter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from backend.domain.errors import CurrencyMismatch, InvalidAmount, UnsupportedCurrency

#: Decimal places of each currency's minor unit (ISO 4217).
MINOR_UNIT_DIGITS: Final[dict[str, int]] = {"EUR": 2, "USD": 2, "GBP": 2, "KRW": 0, "JPY": 0}

#: The largest amount one command may move (API.md: 1 ≤ amount ≤ 10^12).
MAX_AMOUNT: Final[int] = 1_000_000_000_000


def check_currency(code: str) -> str:
    """Return `code` when the bank knows the currency, else raise UnsupportedCurrency."""
    if code not in MINOR_UNIT_DIGITS:
        raise UnsupportedCurrency(code)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of a currency; arithmetic refuses mixed currencies."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool is an int subclass: refuse it too
            raise InvalidAmount(f"amount must be an integer, not {type(self.amount).__name__}")
        check_currency(self.currency)

    @classmethod
    def positive(cls, amount: int, currency: str) -> Money:
        """Money for a command: 1 ≤ amount ≤ MAX_AMOUNT."""
        money = cls(amount, currency)
        if not 1 <= amount <= MAX_AMOUNT:
            raise InvalidAmount(f"amount must be between 1 and {MAX_AMOUNT}")
        return money

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")
        return other
