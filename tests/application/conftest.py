"""Fixtures for application tests: the application over in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backend.application import accounts
from backend.application.command_runner import CommandRunner
from backend.application.commands import Deposit, OpenAccount
from backend.application.ports.event_store import EventMetadata
from tests.fakes import InMemoryApp

#: Opens an account for an owner with a starting balance; returns the account id.
AccountOpener = Callable[..., str]


@pytest.fixture
def memory_app() -> InMemoryApp:
    return InMemoryApp()


@pytest.fixture
def runner(memory_app: InMemoryApp) -> CommandRunner:
    return memory_app.runner()


@pytest.fixture
def open_account(runner: CommandRunner) -> AccountOpener:
    def open_(owner_id: str = "owner-1", balance: int = 0, currency: str = "EUR") -> str:
        meta = EventMetadata(user_id=owner_id)
        command = OpenAccount(owner_id, "Everyday", currency)
        account_id = runner.run(lambda ctx: accounts.open_account(command, ctx), meta).id
        if balance:
            deposit = Deposit(owner_id, account_id, balance)
            runner.run(lambda ctx: accounts.deposit(deposit, ctx), meta)
        return account_id

    return open_
