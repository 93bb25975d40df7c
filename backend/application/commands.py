"""Commands: what a caller asks the application to do, in the imperative."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenAccount:
    owner_id: str
    name: str
    currency: str


@dataclass(frozen=True, slots=True)
class Deposit:
    owner_id: str
    account_id: str
    amount: int
    reference: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    owner_id: str
    account_id: str
    amount: int
    reference: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class CloseAccount:
    owner_id: str
    account_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class RequestTransfer:
    owner_id: str
    source_account_id: str
    target_account_id: str
    amount: int
    reference: str | None = None
