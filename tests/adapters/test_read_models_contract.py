"""The read side's contract on every backend (memory, SQLite, PostgreSQL): projections give
exact rows from a fixed event sequence, replays change nothing, queries page stably."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from backend.application.command_runner import CommandContext
from backend.application.errors import NotFound
from backend.application.queries import AccountQueries, TransferQueries
from backend.application.read_models import (
    AccountAdvance,
    AccountSummary,
    DailyTotal,
    TransactionRow,
    TransferSummary,
)
from backend.container import build_container
from backend.domain.money import Money
from backend.domain.transfer import FailureReason
from backend.entrypoints.cli.migrate import upgrade_database
from tests.conftest import SettingsFactory
from tests.read_side import (
    Bank,
    ReadSide,
    dump,
    memory_read_side,
    migrated_engine,
    sql_read_side,
)

D1 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
D2 = D1 + timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def side(request: pytest.FixtureRequest) -> Iterator[ReadSide]:
    """Each read-side backend in turn."""
    if request.param == "memory":
        yield memory_read_side()
        return
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    engine = migrated_engine(request.getfixturevalue(fixture))
    yield sql_read_side(request.param, engine)
    engine.dispose()


def write_fixed_sequence(bank: Bank) -> None:
    """17 events: two accounts, a deposit and a withdrawal on day 1, on day 2 one completed
    transfer (request at 10:00, completion at 11:00) and one failed (missing target)."""
    clock = bank.clock
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob", "Savings")
    clock.advance(minutes=1)
    bank.deposit("acc-a", 10_000, "salary")
    clock.advance(minutes=1)
    bank.withdraw("acc-a", 2_500, "rent")
    clock.current = D2
    bank.request("t-1", "acc-a", "acc-b", 1_000, "alice")
    clock.current = D2 + 60 * MINUTE
    bank.complete("t-1", "acc-a", "acc-b", 1_000)
    bank.request("t-2", "acc-a", "acc-gone", 500, "alice")
    bank.fail("t-2", "acc-a", FailureReason.TARGET_ACCOUNT_NOT_FOUND)


EXPECTED_SUMMARIES = [
    AccountSummary("acc-a", "alice", "Main", "EUR", 6_500, 0, "open", 7, 1, D1, D2 + 60 * MINUTE),
    AccountSummary("acc-b", "bob", "Savings", "EUR", 1_000, 0, "open", 2, 2, D1, D2 + 60 * MINUTE),
]
T2 = D2 + 60 * MINUTE
T_WD, T_DEP = D1 + 2 * MINUTE, D1 + MINUTE
EXPECTED_TRANSACTIONS_A = [
    TransactionRow("ev-10", "acc-a", 10, "transfer_out", 1_000, "EUR", 6_500, "ref t-1", "t-1", T2),
    TransactionRow("ev-4", "acc-a", 4, "withdrawal", 2_500, "EUR", 7_500, "rent", None, T_WD),
    TransactionRow("ev-3", "acc-a", 3, "deposit", 10_000, "EUR", 10_000, "salary", None, T_DEP),
]  # fmt: skip
EXPECTED_TRANSACTIONS_B = [
    TransactionRow("ev-8", "acc-b", 8, "transfer_in", 1_000, "EUR", 1_000, "ref t-1", "t-1", T2),
]
EXPECTED_DAILY_A = [
    DailyTotal("acc-a", date(2026, 11, 21), 10_000, 2_500, 0, 0, 7_500, 3),
    DailyTotal("acc-a", date(2026, 11, 22), 0, 0, 0, 1_000, 6_500, 5),
]
EXPECTED_TRANSFERS = [
    TransferSummary(
        "t-2", "acc-a", "acc-gone", 500, "EUR", "ref t-2", "failed", "target_account_not_found",
        T2, T2, None, "alice", None, 4, 12,
    ),
    TransferSummary(
        "t-1", "acc-a", "acc-b", 1_000, "EUR", "ref t-1", "completed", None,
        D2, T2, T2, "alice", "bob", 4, 5,
    ),
]  # fmt: skip


OWNERS = {"alice": ["acc-a"], "bob": ["acc-b"]}


@pytest.mark.parametrize("inline", [False, True], ids=["follower", "inline+follower"])
def test_fixed_sequence_projects_to_exact_rows(side: ReadSide, inline: bool) -> None:
    write_fixed_sequence(side.bank(inline=inline))
    side.follower(page_size=4).catch_up()
    reader = side.reader
    assert [reader.account("acc-a"), reader.account("acc-b")] == EXPECTED_SUMMARIES
    assert reader.transactions_of("acc-a", None, 50) == EXPECTED_TRANSACTIONS_A
    assert reader.transactions_of("acc-b", None, 50) == EXPECTED_TRANSACTIONS_B
    assert reader.daily_totals_of("acc-a") == EXPECTED_DAILY_A
    assert reader.transfers_visible_to("alice", None, None, None, 50) == EXPECTED_TRANSFERS
    assert reader.transfers_visible_to("bob", None, None, None, 50) == EXPECTED_TRANSFERS[1:]
    assert reader.checkpoint("accounts") == reader.checkpoint("transfers") == 17


def test_inline_projection_shows_commands_before_any_follower_runs(side: ReadSide) -> None:
    write_fixed_sequence(side.bank(inline=True))
    assert [side.reader.account("acc-a"), side.reader.account("acc-b")] == EXPECTED_SUMMARIES
    assert side.reader.transactions_of("acc-a", None, 50) == EXPECTED_TRANSACTIONS_A
    assert side.follower().lag() == {"accounts": 17, "transfers": 17}


def test_replaying_the_log_again_changes_nothing(side: ReadSide) -> None:
    write_fixed_sequence(side.bank(inline=True))
    follower = side.follower(page_size=5)
    follower.catch_up()
    before = dump(side.reader, OWNERS)
    with side.uow() as uow:
        for name in ("accounts", "transfers"):
            uow.read_models.checkpoints.save(name, 0)
        uow.commit()
    assert follower.catch_up() == 17
    assert dump(side.reader, OWNERS) == before
    assert follower.lag() == {"accounts": 0, "transfers": 0}


def test_follower_fills_a_gap_left_by_a_writer_without_projection(side: ReadSide) -> None:
    bank = side.bank(inline=True)
    projector, bank.runner.inline_projector = bank.runner.inline_projector, lambda uow, events: None
    bank.open("acc-a", "alice")
    bank.runner.inline_projector = projector
    bank.deposit("acc-a", 700)  # inline sees version 2 with no summary: reads version 1 first
    summary = side.reader.account("acc-a")
    assert summary is not None and (summary.balance, summary.version) == (700, 2)
    side.follower().catch_up()
    assert side.reader.account("acc-a") == summary


def test_a_gap_on_an_earlier_day_is_added_to_that_days_row(side: ReadSide) -> None:
    """The inline projection reads the day rows of its own events ahead; a gap it fills from
    history may fall on another day, whose row it must read too before adding to it."""
    bank = side.bank(inline=True)
    bank.clock.current = D1
    bank.open("acc-a", "alice")
    bank.deposit("acc-a", 100)
    projector, bank.runner.inline_projector = bank.runner.inline_projector, lambda uow, events: None
    bank.deposit("acc-a", 20)  # day 1, not projected
    bank.runner.inline_projector = projector
    bank.clock.current = D2
    bank.deposit("acc-a", 3)
    assert side.reader.daily_totals_of("acc-a") == [
        DailyTotal("acc-a", D1.date(), 120, 0, 0, 0, 120, 3),
        DailyTotal("acc-a", D2.date(), 3, 0, 0, 0, 123, 4),
    ]


def write_random_history(bank: Bank, seed: int) -> None:
    """Deposits, withdrawals, transfers (completed and failed), commands of several events on
    one account, and days passing, in a random order."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible history, not a secret)
    bank.clock.current = D1
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob", "Savings")
    balances = {"acc-a": 0, "acc-b": 0}
    for n in range(40):
        account = rng.choice(["acc-a", "acc-b"])
        other = "acc-b" if account == "acc-a" else "acc-a"
        amount = rng.randint(1, 5_000)
        match rng.randrange(5):
            case 0 | 1:
                bank.deposit(account, amount, f"dep {n}")
                balances[account] += amount
            case 2 if balances[account] >= amount:
                bank.withdraw(account, amount)
                balances[account] -= amount
            case 3 if balances[account] >= amount:
                owner = "alice" if account == "acc-a" else "bob"
                bank.request(f"t-{n}", account, other, amount, owner)
                if rng.random() < 0.7:
                    bank.complete(f"t-{n}", account, other, amount)
                    balances[account], balances[other] = (
                        balances[account] - amount,
                        balances[other] + amount,
                    )
                else:
                    bank.fail(f"t-{n}", account, FailureReason.TARGET_ACCOUNT_CLOSED)
            case _:
                bank.run(several_deposits(account, [amount, amount // 2 + 1, 7]))
                balances[account] += amount + amount // 2 + 1 + 7
        bank.clock.advance(minutes=rng.choice([1, 90, 600]))


def several_deposits(account_id: str, amounts: list[int]) -> Callable[[CommandContext], None]:
    """One command appending a deposit event per amount."""

    def handler(ctx: CommandContext) -> None:
        account = ctx.accounts.get(account_id)
        assert account is not None
        for amount in amounts:
            account.deposit(Money(amount, "EUR"), "batch")
        ctx.accounts.save(account, ctx.metadata)

    return handler


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_advanced_inline_equal_a_fold_of_the_same_log(side: ReadSide, seed: int) -> None:
    """Inline, a command's rows are advanced without being read (`advance_account`); a
    follower alone folds them from the log. Both give the same rows, on every backend."""
    write_random_history(side.bank(inline=True), seed)
    folded = memory_read_side()
    write_random_history(folded.bank(inline=False), seed)
    folded.follower().catch_up()
    assert dump(side.reader, OWNERS) == dump(folded.reader, OWNERS)
    side.follower().catch_up()  # and a follower after the inline writes changes nothing
    assert dump(side.reader, OWNERS) == dump(folded.reader, OWNERS)


def test_advance_changes_nothing_unless_the_summary_is_where_it_starts(side: ReadSide) -> None:
    bank = side.bank(inline=True)
    bank.clock.current = D1
    bank.open("acc-a", "alice")
    bank.deposit("acc-a", 100)
    before = dump(side.reader, OWNERS)
    move = TransactionRow("ev-x", "acc-a", 99, "deposit", 5, "EUR", 0, None, None, D1)
    day = DailyTotal("acc-a", D1.date(), 5, 0, 0, 0, 0, 3)
    for start in (1, 3):  # behind and ahead of the stored summary (version 2)
        advance = AccountAdvance(
            "acc-a", start, start + 1, 5, 0, False, D1, [(move, 0)], [(day, 0)]
        )
        with side.uow() as uow:
            assert uow.read_models.advance_account(advance) is False
            uow.commit()
    missing = AccountAdvance("acc-none", 1, 2, 5, 0, False, D1, [], [])
    with side.uow() as uow:
        assert uow.read_models.advance_account(missing) is False
        advance = AccountAdvance("acc-a", 2, 3, 5, 0, False, D2, [(move, 0)], [(day, 0)])
        assert uow.read_models.advance_account(advance) is True
        uow.commit()
    assert dump(side.reader, OWNERS) != before
    summary = side.reader.account("acc-a")
    assert summary is not None and (summary.balance, summary.version) == (105, 3)
    assert side.reader.transactions_of("acc-a", None, 1) == [replace(move, balance_after=105)]
    assert side.reader.daily_totals_of("acc-a") == [
        DailyTotal("acc-a", D1.date(), 105, 0, 0, 0, 105, 3)
    ]


def test_account_rows_reads_summaries_with_the_asked_day_rows_only(side: ReadSide) -> None:
    write_fixed_sequence(side.bank(inline=True))
    asked = {("acc-a", D1.date()), ("acc-b", D1.date()), ("acc-a", date(2000, 1, 1))}
    with side.uow() as uow:
        summaries, totals = uow.read_models.account_rows({"acc-a", "acc-b", "acc-none"}, asked)
        assert uow.read_models.account_rows(set(), asked) == ({}, {})
    assert summaries == {row.account_id: row for row in EXPECTED_SUMMARIES}
    assert totals == {("acc-a", D1.date()): EXPECTED_DAILY_A[0]}


def test_as_of_matches_the_account_folded_by_hand(side: ReadSide) -> None:
    write_fixed_sequence(side.bank())
    queries = AccountQueries(side.reader)
    after_deposit = queries.account_as_of("alice", "acc-a", D1 + MINUTE)
    assert (after_deposit.balance, after_deposit.available_balance, after_deposit.version) == (
        10_000, 10_000, 2,
    )  # fmt: skip
    while_held = queries.account_as_of("alice", "acc-a", D2 + 30 * MINUTE)
    assert (while_held.balance, while_held.available_balance, while_held.version) == (
        7_500, 6_500, 4,
    )  # fmt: skip
    assert while_held.updated_at == D2 and while_held.opened_at == D1
    now = queries.account_as_of("alice", "acc-a", D2 + 2 * 60 * MINUTE)
    assert now == queries.account("alice", "acc-a")


def test_transaction_pages_stay_stable_while_new_rows_arrive(side: ReadSide) -> None:
    bank = side.bank()
    write_fixed_sequence(bank)
    queries = AccountQueries(side.reader)
    first = queries.transactions("alice", "acc-a", limit=2)
    assert [t.id for t in first.items] == ["ev-10", "ev-4"]
    bank.deposit("acc-a", 1, "late")
    bank.deposit("acc-a", 2, "later")
    second = queries.transactions("alice", "acc-a", limit=2, cursor=first.next_cursor)
    assert [t.id for t in second.items] == ["ev-3"] and second.next_cursor is None
    newest = queries.transactions("alice", "acc-a", limit=2)
    assert [t.reference for t in newest.items] == ["later", "late"]


def test_transfer_pages_and_filters_follow_visibility(side: ReadSide) -> None:
    write_fixed_sequence(side.bank())
    queries = TransferQueries(side.reader)
    first = queries.transfers("alice", limit=1)
    assert [t.id for t in first.items] == ["t-2"]
    rest = queries.transfers("alice", limit=1, cursor=first.next_cursor)
    assert [t.id for t in rest.items] == ["t-1"] and rest.next_cursor is None
    assert [t.id for t in queries.transfers("bob", account_id="acc-b").items] == ["t-1"]
    assert [t.id for t in queries.transfers("alice", status="failed").items] == ["t-2"]
    assert queries.transfer("bob", "t-1").target_owner_id == "bob"


def test_queries_read_the_read_database_when_one_is_configured(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    primary, replica = (f"sqlite:///{tmp_path / name}" for name in ("primary.db", "replica.db"))
    for url in (primary, replica):
        upgrade_database(url)
    container = build_container(
        make_settings(HEXBANK_DATABASE_URL=primary, HEXBANK_READ_DATABASE_URL=replica)
    )
    try:
        side = sql_read_side("sqlite", container.engine())
        side.bank().open("acc-a", "alice")  # commands always write the primary
        assert side.reader.account("acc-a") is not None
        with pytest.raises(NotFound):  # this "replica" never receives the primary's rows
            container.account_queries().account("alice", "acc-a")
    finally:
        container.engine().dispose()
        container.read_engine().dispose()
