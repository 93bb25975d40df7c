"""R19 tamper evidence: change any stored event or read-model row behind the application's
back and `hexbank audit verify` exits 1 naming it; on an untouched database it exits 0.
Both modes' databases (SQLite, PostgreSQL), through the real command line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, select, update

from backend.adapters.outbound.sqlalchemy.event_store_tables import events, outbox, snapshots
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from backend.entrypoints.cli.main import cli
from tests.conftest import TEST_SECRET_KEY
from tests.read_side import Bank, migrated_engine, sql_read_side

Tamper = Callable[[Connection], object]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


def fill(engine: Engine, *, follow: bool = True) -> Bank:
    """alice's acc-a and bob's acc-b: deposits, a withdrawal, a completed transfer tr-1 and a
    pending tr-2; the projection follower catches up unless `follow` is False."""
    side = sql_read_side(engine.dialect.name, engine)
    bank = side.bank()
    bank.runner.snapshot_every = 2  # snapshots of every stream, which verify checks too
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob")
    bank.deposit("acc-a", 500)
    bank.withdraw("acc-a", 50)
    bank.transfer("tr-1", "acc-a", "acc-b", 100, "alice")
    bank.clock.advance(days=1)
    bank.deposit("acc-b", 5)
    bank.request("tr-2", "acc-b", "acc-a", 30, "bob")
    if follow:
        side.follower().catch_up()
    return bank


def verify(database_url: str, tmp_path: Path) -> Result:
    env = {
        "HEXBANK_ENV": "test", "HEXBANK_SECRET_KEY": TEST_SECRET_KEY,
        "HEXBANK_DATA_DIR": str(tmp_path / "var"), "HEXBANK_DATABASE_URL": database_url,
    }  # fmt: skip
    return CliRunner(env=env).invoke(cli, ["audit", "verify"])


def at(stream_id: str, version: int) -> ColumnElement[bool]:
    return (events.c.stream_id == stream_id) & (events.c.version == version)


def _delete_event(connection: Connection) -> None:
    (position,) = connection.execute(events.select().where(at("acc-b", 2))).one()[:1]
    connection.execute(delete(outbox).where(outbox.c.id == position))
    connection.execute(delete(events).where(at("acc-b", 2)))


def _forge_event(connection: Connection) -> None:
    connection.execute(
        insert(events).values(
            event_id="forged", stream_id="acc-a", stream_type="account", version=6,
            type="MoneyDeposited", schema_version=2,
            data={"amount": 10**6, "currency": "EUR", "reference": None},
            metadata={}, occurred_at=datetime(2026, 11, 22, tzinfo=UTC),
        )
    )  # fmt: skip


SUMMARIES, TRANSACTIONS, DAYS, TRANSFERS = (
    LIVE.summaries, LIVE.transactions, LIVE.daily_totals, LIVE.transfers,
)  # fmt: skip


def _richer_snapshot(connection: Connection) -> None:
    """acc-a's latest snapshot with 1,000 more on the balance."""
    latest = select(func.max(snapshots.c.version)).where(snapshots.c.stream_id == "acc-a")
    mine = and_(snapshots.c.stream_id == "acc-a", snapshots.c.version == latest.scalar_subquery())
    state = dict(connection.execute(select(snapshots.c.state).where(mine)).scalar_one())
    richer = {**state, "balance": state["balance"] + 1000}
    connection.execute(update(snapshots).where(mine).values(state=richer))


#: What is changed behind the application's back, and what `verify` must name.
TAMPERING: dict[str, tuple[Tamper, str]] = {
    "event-amount": (
        lambda c: c.execute(
            update(events).where(at("acc-a", 2))
            .values(data={"amount": 5000, "currency": "EUR", "reference": None})
        ),
        "stream acc-a version 2",
    ),
    "event-time": (
        lambda c: c.execute(
            update(events).where(at("tr-1", 3)).values(occurred_at=datetime(2020, 1, 1, tzinfo=UTC))
        ),
        "stream tr-1 version 3",
    ),
    "event-metadata": (
        lambda c: c.execute(update(events).where(at("acc-b", 1)).values(metadata={"user_id": "x"})),
        "stream acc-b version 1",
    ),
    "event-hash": (
        lambda c: c.execute(update(events).where(at("tr-2", 1)).values(hash="0" * 64)),
        "stream tr-2 version 1",
    ),
    "event-deleted": (_delete_event, "stream acc-b version 3"),
    "event-forged": (_forge_event, "stream acc-a version 6"),
    "summary-balance": (
        lambda c: c.execute(
            update(SUMMARIES).where(SUMMARIES.c.account_id == "acc-b")
            .values(balance=SUMMARIES.c.balance + 1)
        ),
        "account_summaries [acc-b] of acc-b",
    ),
    "transaction-amount": (
        lambda c: c.execute(
            update(TRANSACTIONS).where(TRANSACTIONS.c.kind == "withdrawal").values(amount=1)
        ),
        "of acc-a: differs from the log",
    ),
    "transaction-deleted": (
        lambda c: c.execute(
            delete(TRANSACTIONS).where(
                (TRANSACTIONS.c.kind == "deposit") & (TRANSACTIONS.c.account_id == "acc-a")
            )
        ),
        "of acc-a: is missing",
    ),
    "day-deleted": (
        lambda c: c.execute(delete(DAYS).where(DAYS.c.account_id == "acc-b")),
        "daily_totals",
    ),
    "snapshot-balance": (_richer_snapshot, "SNAPSHOT DIFFERS: acc-a"),
    "transfer-status": (
        lambda c: c.execute(
            update(TRANSFERS).where(TRANSFERS.c.transfer_id == "tr-1")
            .values(status="failed")
        ),
        "transfer_views [tr-1] of tr-1",
    ),
}  # fmt: skip


@pytest.mark.parametrize("follow", [True, False], ids=["caught-up", "follower-behind"])
def test_an_untouched_database_verifies(
    engine: Engine, database_url: str, tmp_path: Path, follow: bool
) -> None:
    fill(engine, follow=follow)
    result = verify(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "OK: every chain holds" in result.output
    assert (
        "15 events in 4 streams" in result.output and "snapshots: 7 checked" in result.output
    )  # 4 latest, 3 older


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_any_change_behind_the_applications_back_is_named(
    engine: Engine, database_url: str, tmp_path: Path, case: str
) -> None:
    fill(engine)
    change, named = TAMPERING[case]
    with engine.begin() as connection:
        change(connection)
    result = verify(database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert named in result.output, result.output
    is_event = case.startswith("event")
    assert ("BROKEN CHAIN" in result.output) == is_event, result.output
    if not is_event:
        assert "ROW DIFFERS" in result.output or "SNAPSHOT DIFFERS" in result.output


def test_a_database_it_cannot_check_exits_2_not_1(tmp_path: Path) -> None:
    unmigrated = verify(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path)
    assert unmigrated.exit_code == 2 and "hexbank migrate" in unmigrated.output
    unreachable = verify("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path)
    assert unreachable.exit_code == 2, unreachable.output


def test_verify_while_commands_and_the_follower_run_finds_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Read-only and each read model as of its own checkpoint: rows moving on meanwhile (the
    inline projector ahead of the follower, the follower catching up) are no error."""
    bank, stop = fill(engine, follow=False), threading.Event()
    follower = sql_read_side(engine.dialect.name, engine).follower(page_size=7)
    written: list[int] = []
    failed: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                bank.deposit("acc-a", 1)
                bank.withdraw("acc-b", 1)
                follower.run_page()
                written.append(2)
        except BaseException as error:  # the test must see it, not a silent thread
            failed.append(error)
            raise

    writer = threading.Thread(target=write)
    writer.start()
    try:
        results = [verify(database_url, tmp_path) for _ in range(3)]
        during = len(written)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failed and during > 0, failed
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
