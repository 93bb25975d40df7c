"""The books of a live hexbank at quiescence, checked through its API and its database.

At quiescence (every transfer ended) the bank must balance exactly: R1 conservation and
sums of history, R2 read models equal to a fresh rebuild and to the fold of the events,
R3 nothing acknowledged lost and nothing applied twice.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from typing import Any

import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from backend.adapters.outbound.sqlalchemy.event_store_tables import events, outbox
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE, projection_checkpoints
from tests.e2e.bank_audit import check_transfer_legs, pages
from tests.live_stack import HEXBANK, Stack, User, wait_for
from tests.reliability.workload import Bank, Books

SIGN = {"deposit": 1, "transfer_in": 1, "withdrawal": -1, "transfer_out": -1}
INFLOW, OUTFLOW = {"MoneyDeposited", "MoneyCredited"}, {"MoneyWithdrawn", "HoldCaptured"}


def wait_until_settled(bank: Bank, timeout: float) -> None:
    """Every transfer visible to any user has ended (tolerating a server still coming up)."""

    def settled() -> bool:
        try:
            return not any(
                list(pages(bank.client, user, "/transfers", status="pending"))
                for user in bank.users
            )
        except (requests.RequestException, AssertionError):
            return False

    wait_for(settled, timeout, "every transfer to end")


def audit_books(bank: Bank, books: Books) -> dict[str, int]:
    """R1 + R3 through the API; returns the final balance of each account."""
    transfers = _transfers(bank)
    assert set(books.transfers) <= set(transfers), "an acknowledged transfer was lost"
    requested = Counter(t["reference"] for t in transfers.values())
    assert max(requested.values(), default=0) <= 1, "one request made two transfers"
    assert not [t for t in transfers.values() if t["status"] == "pending"]
    history = {a: _history(bank, a) for a in bank.all_accounts}
    _check_references(books, history)
    check_transfer_legs(transfers, history)
    balances = {a: _check_account(bank, a, rows) for a, rows in history.items()}
    moved = Counter[str]()
    for rows in history.values():
        for row in rows:
            moved[row["kind"]] += row["amount"]
    assert sum(balances.values()) == moved["deposit"] - moved["withdrawal"], moved
    assert moved["transfer_in"] == moved["transfer_out"], moved
    return balances


def _owner(bank: Bank, account_id: str) -> User:
    return next(
        u for u, owned in zip(bank.users, bank.accounts, strict=True) if account_id in owned
    )


def _transfers(bank: Bank) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for user in bank.users:
        seen |= {t["id"]: t for t in pages(bank.client, user, "/transfers")}
    return seen


def _history(bank: Bank, account_id: str) -> list[dict[str, Any]]:
    """The account's transactions, oldest first."""
    owner = _owner(bank, account_id)
    return list(reversed(list(pages(bank.client, owner, f"/accounts/{account_id}/transactions"))))


def _check_references(books: Books, history: dict[str, list[dict[str, Any]]]) -> None:
    """Each deposit/withdrawal in the history is one attempt, applied once; none acked lost."""
    applied = Counter(
        row["reference"] for rows in history.values() for row in rows if row["transfer_id"] is None
    )
    assert not [ref for ref, count in applied.items() if count > 1], "applied twice"
    for reference in applied:
        kind, amount = books.attempted[reference]  # KeyError: a transaction nobody asked for
        rows = [r for rs in history.values() for r in rs if r["reference"] == reference]
        assert (rows[0]["kind"], rows[0]["amount"]) == (kind, amount), rows
    acknowledged = set(books.deposits) | set(books.withdrawals)
    assert acknowledged <= set(applied), f"lost: {acknowledged - set(applied)}"


def _check_account(bank: Bank, account_id: str, rows: list[dict[str, Any]]) -> int:
    """Balance = the sum of the history = the fold of the events; no hold is left."""
    owner = _owner(bank, account_id)
    account = bank.client.account(owner, account_id)
    running = 0
    for row in rows:
        running += SIGN[row["kind"]] * row["amount"]
        assert row["balance_after"] == running, (account_id, row)
    assert account["balance"] == account["available_balance"] == running, account
    stream = list(pages(bank.client, owner, f"/accounts/{account_id}/events"))
    assert [e["version"] for e in stream] == list(range(1, len(stream) + 1))
    assert account["version"] == len(stream)
    assert fold_balance(stream) == running
    return running


def fold_balance(stream: list[dict[str, Any]]) -> int:
    total = 0
    for event in stream:
        if event["type"] in INFLOW:
            total += event["data"]["amount"]
        elif event["type"] in OUTFLOW:
            total -= event["data"]["amount"]
    return total


# --- the database underneath ----------------------------------------------------------------


def database_url(stack: Stack) -> str:
    return stack.database_url or f"sqlite:///{stack.directory / 'var' / 'hexbank.sqlite3'}"


def query(url: str, statement: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def read_models(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every live read-model table, in key order."""
    tables = (LIVE.summaries, LIVE.transactions, LIVE.daily_totals, LIVE.transfers)
    return {t.name: query(url, select(t).order_by(*t.primary_key.columns)) for t in tables}


def projection_lag(url: str) -> int:
    head = query(url, select(func.coalesce(func.max(events.c.position), 0)))[0][0]
    checkpoints = [row[0] for row in query(url, select(projection_checkpoints.c.position))]
    return int(head) - min(checkpoints, default=0)


def pending_outbox(url: str) -> int:
    return int(query(url, select(func.count()).select_from(outbox))[0][0])


def event_count(url: str) -> int:
    return int(query(url, text("SELECT count(*) FROM events"))[0][0])


def hexbank(stack: Stack, *args: str, timeout: float = 120) -> str:
    """Run a `hexbank` command against the stack's configuration; its output."""
    done = subprocess.run(
        [HEXBANK, *args], env=stack.env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def audit_read_side(stack: Stack, lag_timeout: float = 2.0) -> None:
    """R2: the follower caught up; a fresh rebuild changes no row."""
    url = database_url(stack)
    started = time.monotonic()
    wait_for(lambda: projection_lag(url) == 0, lag_timeout, "the projections to catch up")
    assert time.monotonic() - started <= lag_timeout
    live = read_models(url)
    hexbank(stack, "projections", "rebuild")
    rebuilt = read_models(url)
    for table, rows in live.items():
        assert rebuilt[table] == rows, f"{table}: rebuild differs from the live read model"
