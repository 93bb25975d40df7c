"""Money: integer minor units of one currency, refusing anything else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain.errors import CurrencyMismatch, InvalidAmount, UnsupportedCurrency
from backend.domain.money import MAX_AMOUNT, MINOR_UNIT_DIGITS, Money, check_currency


def test_adds_and_subtracts_money_of_one_currency() -> None:
    assert Money(150, "EUR") + Money(50, "EUR") == Money(200, "EUR")
    assert Money(150, "EUR") - Money(50, "EUR") == Money(100, "EUR")


def test_compares_money_of_one_currency() -> None:
    assert Money(1, "USD") < Money(2, "USD")
    assert Money(2, "USD") <= Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
    ],
)
def test_refuses_to_mix_currencies(operation: object) -> None:
    with pytest.raises(CurrencyMismatch):
        operation(Money(1, "EUR"), Money(1, "USD"))  # type: ignore[operator]


@pytest.mark.parametrize("amount", [1.0, 10.5, Decimal("1"), "1", True, False, None])
def test_refuses_amounts_that_are_not_plain_integers(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        Money(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1])
def test_positive_refuses_amounts_out_of_range(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        Money.positive(amount, "EUR")


@pytest.mark.parametrize("amount", [1, MAX_AMOUNT])
def test_positive_accepts_the_bounds_of_the_range(amount: int) -> None:
    assert Money.positive(amount, "GBP") == Money(amount, "GBP")


@pytest.mark.parametrize("amount", [1.0, True])
def test_positive_refuses_non_integers(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.positive(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["XXX", "eur", "", "BTC"])
def test_refuses_an_unsupported_currency(code: str) -> None:
    with pytest.raises(UnsupportedCurrency):
        Money(1, code)
    with pytest.raises(UnsupportedCurrency):
        check_currency(code)


def test_knows_the_minor_unit_of_every_supported_currency() -> None:
    for code in MINOR_UNIT_DIGITS:
        assert Money(0, code).currency == code
    assert MINOR_UNIT_DIGITS["JPY"] == 0
    assert MINOR_UNIT_DIGITS["EUR"] == 2


def test_is_immutable() -> None:
    money = Money(1, "EUR")
    with pytest.raises(AttributeError):
        money.amount = 2  # type: ignore[misc]
