"""`hexbank demo`: one demo user, months of history on each account, every transfer ended."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from backend.application.demo import DEMO_ACCOUNTS, DEMO_EMAIL, DEMO_PASSWORD, DEMO_SCHEDULE
from backend.application.queries import TransactionView
from backend.config import Settings
from backend.container import Container, build_container
from backend.entrypoints.cli.main import cli
from tests.conftest import TEST_SECRET_KEY, SettingsFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    container = build_container(settings)
    yield container
    container.engine().dispose()


def run_demo(settings: Settings, **extra: str) -> Result:
    # Only this deployment's variables: a HEXBANK_* of the caller's shell must not leak in.
    unset: dict[str, str | None] = {key: None for key in os.environ if key.startswith("HEXBANK_")}
    env = unset | {
        "HEXBANK_ENV": "test",
        "HEXBANK_DATA_DIR": str(settings.data_dir),
        "HEXBANK_SECRET_KEY": TEST_SECRET_KEY,
        **extra,
    }
    return CliRunner(env=env).invoke(cli, ["demo"])


def all_transactions(container: Container, owner: str, account_id: str) -> list[TransactionView]:
    page = container.account_queries().transactions(owner, account_id, limit=500)
    assert page.next_cursor is None
    return page.items


def test_running_the_demo_twice_gives_one_user_with_a_month_of_history(
    settings: Settings, container: Container
) -> None:
    first, second = run_demo(settings), run_demo(settings)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert DEMO_PASSWORD in first.output
    assert "already there" in second.output
    user = container.identity_service().authenticate(DEMO_EMAIL, DEMO_PASSWORD)
    listed = container.account_queries().accounts(user.id, limit=50).items
    assert sorted((a.name, a.currency) for a in listed) == sorted(DEMO_ACCOUNTS.values())
    now = datetime.now(UTC)
    for account in listed:
        history = all_transactions(container, user.id, account.id)
        times = [row.occurred_at for row in history]
        assert len(history) >= 4, account.name
        assert min(times) <= now - timedelta(days=28), account.name
        assert now - timedelta(days=6) <= max(times) < now, account.name
        assert history[0].balance_after == account.balance  # newest first, and it adds up
        assert account.available_balance == account.balance  # no hold left behind


def test_every_demo_transfer_has_ended(settings: Settings, container: Container) -> None:
    assert run_demo(settings).exit_code == 0
    user = container.identity_service().authenticate(DEMO_EMAIL, DEMO_PASSWORD)

    transfers = container.transfer_queries().transfers(user.id, limit=50).items

    assert len(transfers) == sum(entry.kind == "transfer" for entry in DEMO_SCHEDULE)
    assert {t.status for t in transfers} == {"completed", "failed"}
    failed = [t for t in transfers if t.status == "failed"]
    assert [t.failure_reason for t in failed] == ["currency_mismatch"]


def test_the_demo_refuses_a_deployment_with_redis(settings: Settings) -> None:
    result = run_demo(settings, HEXBANK_REDIS_URL="redis://127.0.0.1:1/0")

    assert result.exit_code == 1
    assert "HEXBANK_REDIS_URL" in result.output
    assert "Traceback" not in result.output


def test_main_has_more_than_a_page_of_transactions_for_load_more(
    settings: Settings, container: Container
) -> None:
    assert run_demo(settings).exit_code == 0
    user = container.identity_service().authenticate(DEMO_EMAIL, DEMO_PASSWORD)
    main = next(a for a in container.account_queries().accounts(user.id).items if a.name == "Main")

    first_page = container.account_queries().transactions(user.id, main.id)  # the web app's page

    assert first_page.next_cursor is not None
    days = container.account_queries().daily_totals(user.id, main.id)
    assert len(days) >= 50  # the chart has months to show, not one burst
