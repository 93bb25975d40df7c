"""Typed domain errors, so adapters map them to problem types without string matching."""


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""


class InvalidAmount(DomainError):
    """An amount that is not a positive whole number of minor units."""


class UnsupportedCurrency(DomainError):
    """A currency code the bank does not hold."""


class CurrencyMismatch(DomainError):
    """Money of one currency met money or an account of another."""


class InsufficientFunds(DomainError):
    """The available balance (balance minus holds) does not cover the amount."""


class AccountClosed(DomainError):
    """A command reached an account that is closed."""


class AccountNotEmpty(DomainError):
    """Closing an account that still has money or funds on hold."""


class InvalidAccountName(DomainError):
    """An account name that is empty or too long."""


class SameAccount(DomainError):
    """A transfer whose source and target are the same account."""
