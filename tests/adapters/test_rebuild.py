"""Rebuilding projections into shadow tables and swapping them in, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from backend.adapters.outbound.sqlalchemy.rebuild import SqlAlchemyProjectionRebuilder
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.application.projections import default_projections
from backend.entrypoints.cli.main import cli
from tests.conftest import TEST_SECRET_KEY
from tests.read_side import Bank, ReadSide, dump, migrated_engine, sql_read_side

ACCOUNTS = [f"acc-{n}" for n in range(6)]
OWNERS = {f"owner-{n}": ACCOUNTS[n::3] for n in range(3)}
OWNER_OF = {account: owner for owner, accounts in OWNERS.items() for account in accounts}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def side(request: pytest.FixtureRequest) -> Iterator[ReadSide]:
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    engine = migrated_engine(request.getfixturevalue(fixture))
    yield sql_read_side(request.param, engine)
    engine.dispose()


def rebuilder(side: ReadSide, page_size: int = 1000) -> SqlAlchemyProjectionRebuilder:
    assert side.engine is not None
    return SqlAlchemyProjectionRebuilder(
        side.engine, default_projections(default_codec()), page_size
    )


def seed(bank: Bank) -> dict[str, int]:
    """Accounts with deposits and one transfer; returns the expected balances."""
    balances = dict.fromkeys(ACCOUNTS, 0)
    for account in ACCOUNTS:
        bank.open(account, OWNER_OF[account])
    for n in range(60):
        account = ACCOUNTS[n % len(ACCOUNTS)]
        bank.deposit(account, 100 + n)
        balances[account] += 100 + n
    bank.transfer("t-seed", "acc-0", "acc-1", 50, OWNER_OF["acc-0"])
    balances["acc-0"] -= 50
    balances["acc-1"] += 50
    return balances


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.002)


def test_rebuild_of_a_quiet_log_equals_the_inline_projection(side: ReadSide) -> None:
    balances = seed(side.bank())
    before = dump(side.reader, OWNERS)
    result = rebuilder(side, page_size=50).rebuild()
    assert result.events == result.position == side.reader.head_position()
    assert dump(side.reader, OWNERS) == before
    assert {a: side.reader.account(a).balance for a in ACCOUNTS} == balances  # type: ignore[union-attr]
    assert side.follower().lag() == {"accounts": 0, "transfers": 0}


def test_rebuild_restores_a_damaged_read_model_and_keeps_its_indexes(side: ReadSide) -> None:
    seed(side.bank())
    before = dump(side.reader, OWNERS)
    assert side.engine is not None
    with side.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM transactions")
        connection.exec_driver_sql("UPDATE transfer_views SET status = 'pending'")
    rebuilder(side).rebuild("accounts")
    rebuilder(side).rebuild("transfers")
    assert dump(side.reader, OWNERS) == before
    indexes = {i["name"] for i in inspect(side.engine).get_indexes("transactions")}
    assert indexes == {"ix_transactions_account"}


def test_unknown_projection_name_is_refused(side: ReadSide) -> None:
    with pytest.raises(LookupError, match="no projection 'nope'"):
        rebuilder(side).rebuild("nope")


def test_rebuild_during_concurrent_commands_equals_a_fresh_rebuild(
    side: ReadSide, caplog: pytest.LogCaptureFixture
) -> None:
    bank = side.bank()
    balances = seed(bank)
    done, stop = [0], threading.Event()

    def commands() -> None:
        while not stop.is_set() and done[0] < 400:
            account = ACCOUNTS[done[0] % len(ACCOUNTS)]
            bank.deposit(account, 1 + done[0])
            balances[account] += 1 + done[0]
            if done[0] % 25 == 0:
                bank.transfer(f"t-{done[0]}", "acc-2", "acc-3", 7, OWNER_OF["acc-2"])
                balances["acc-2"], balances["acc-3"] = balances["acc-2"] - 7, balances["acc-3"] + 7
            done[0] += 1

    def interleave(position: int, head: int) -> None:
        seen = done[0]  # let at least one command commit between two rebuild pages
        wait_for(lambda: done[0] > seen or not worker.is_alive())

    worker = threading.Thread(target=commands)
    follower = threading.Thread(target=side.follower(page_size=7).run, args=(stop, 0.001))
    worker.start()
    follower.start()  # a follower of the live tables keeps running through the swap too
    try:
        result = rebuilder(side, page_size=20).rebuild(progress=interleave)
    finally:
        stop.set()
        worker.join()
        follower.join()
    assert result.events > 0
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    side.follower().catch_up()
    after_concurrent = dump(side.reader, OWNERS)
    assert {a: side.reader.account(a).balance for a in ACCOUNTS} == balances  # type: ignore[union-attr]
    rebuilder(side).rebuild()
    assert dump(side.reader, OWNERS) == after_concurrent


def test_cli_rebuild_reports_events_per_second(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    engine = migrated_engine(sqlite_url)
    try:
        seed(sql_read_side("sqlite", engine).bank())
    finally:
        engine.dispose()
    environ = {
        "HEXBANK_ENV": "test",
        "HEXBANK_DATA_DIR": str(tmp_path / "var"),
        "HEXBANK_SECRET_KEY": TEST_SECRET_KEY,
        "HEXBANK_DATABASE_URL": sqlite_url,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    rebuilt = CliRunner().invoke(cli, ["projections", "rebuild", "accounts"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt accounts: 73 events in" in rebuilt.output and "events/s)" in rebuilt.output
    status = CliRunner().invoke(cli, ["projections", "status"])
    assert "accounts: lag 0" in status.output
    unknown = CliRunner().invoke(cli, ["projections", "rebuild", "nope"])
    assert unknown.exit_code == 2 and "choose from accounts, transfers" in unknown.output


@pytest.mark.postgres
def test_the_rebuild_waits_for_an_appender_holding_the_append_lock(fresh_postgres_url: str) -> None:
    """An appender in flight holds the rebuild up: its pages pass the readers' barrier and its
    swap takes the appenders' lock exclusively, so no event can commit between its last page and
    the table swap (the swap once took a lock of another key, and so excluded nobody)."""
    engine = migrated_engine(fresh_postgres_url)
    side = sql_read_side("postgres", engine)
    seed(side.bank())
    done = threading.Event()
    with side.uow() as uow:
        late = NewEvent("late-1", "Thing", 1, {}, EventMetadata(), datetime.now(UTC))
        uow.events.append("late-stream", "thing", 0, [late])  # holds the append lock (shared)

        def rebuild() -> None:
            rebuilder(side).rebuild()
            done.set()

        worker = threading.Thread(target=rebuild)
        worker.start()
        assert not done.wait(1.0), "the swap went ahead while an appender held the lock"
        uow.commit()
    worker.join(30)
    assert done.is_set()
    engine.dispose()
