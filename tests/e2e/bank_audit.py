"""The books of the bank workload at quiescence, checked through the HTTP API alone: every
transfer terminal, balances equal to the fold of their history and of the completed transfers,
each completed transfer moved exactly once, failed ones moved nothing (RELIABILITY.md R1, R3)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from tests.e2e.bank_workload import (
    CLOSED,
    CURRENCY,
    INSUFFICIENT,
    TERMINAL,
    UNKNOWN,
    BalanceSampler,
    Bank,
    PlannedTransfer,
    plan_transfers,
    submit_all,
)
from tests.live_stack import Client, User, wait_for


def pages(client: Client, user: User, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a listing, following next_cursor."""
    cursor: str | None = None
    while True:
        query = {"limit": 200, **params, **({"cursor": cursor} if cursor else {})}
        page = client.expect(200, "GET", path, user, params=query)
        yield from page["items"]
        if not (cursor := page["next_cursor"]):
            return


def all_transfers(bank: Bank) -> dict[str, dict[str, Any]]:
    """Every transfer the bank's users can see (each has a source of ours), by id."""
    client = bank.client()
    return {t["id"]: t for user in bank.users for t in pages(client, user, "/transfers")}


def settle(bank: Bank, accepted: set[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Wait until no transfer is pending; return them all, checking none accepted is missing."""
    client = bank.client()

    def quiet() -> bool:
        pending = (
            client.call("GET", "/transfers", u, params={"status": "pending"}) for u in bank.users
        )
        return all(r.status_code == 200 and not r.json()["items"] for r in pending)

    wait_for(quiet, timeout, "every transfer to end")
    transfers = all_transfers(bank)
    missing = accepted - transfers.keys()
    assert not missing, f"accepted transfers unknown to the API: {sorted(missing)[:5]}"
    statuses = Counter(t["status"] for t in transfers.values())
    assert set(statuses) <= set(TERMINAL), statuses
    return transfers


def check_failure_reasons(
    transfers: dict[str, dict[str, Any]],
    accepted: dict[str, PlannedTransfer],
    also_allowed: tuple[str, ...] = (),
) -> Counter[str]:
    """Each transfer built to fail failed for its reason (or, its first step being the hold,
    for want of funds); the others completed or ran out of funds. Returns each outcome's count."""
    outcomes: Counter[str] = Counter()
    for transfer_id, item in accepted.items():
        seen = transfers[transfer_id]
        outcome = seen["failure_reason"] or seen["status"]
        outcomes[outcome] += 1
        expected = (item.must_fail or "completed", INSUFFICIENT, *also_allowed)
        assert outcome in expected, (item, seen)
    return outcomes


def check_books(bank: Bank, transfers: dict[str, dict[str, Any]]) -> None:
    """At quiescence: totals unchanged, each balance is the fold of its history and of the
    completed transfers, each completed transfer moved money exactly once, failed ones none."""
    client = bank.client()
    history = {a.id: list(client.transactions(a.owner, a.id)) for a in bank.accounts}
    expected = {a.id: a.deposit for a in bank.accounts}
    for transfer in transfers.values():
        if transfer["status"] == "completed":
            expected[transfer["source_account_id"]] -= transfer["amount"]
            expected[transfer["target_account_id"]] += transfer["amount"]
    totals: dict[str, int] = defaultdict(int)
    for account in bank.accounts:
        seen = client.account(account.owner, account.id)
        _check_history(seen, history[account.id])
        assert seen["balance"] == expected[account.id], (seen, expected[account.id])
        totals[account.currency] += seen["balance"]
    assert totals == {c: sum(a.deposit for a in bank.accounts if a.currency == c) for c in totals}
    check_transfer_legs(transfers, history)


def _check_history(account: dict[str, Any], newest_first: list[dict[str, Any]]) -> None:
    assert account["available_balance"] == account["balance"], account  # no hold left
    running = 0
    for transaction in reversed(newest_first):
        sign = 1 if transaction["kind"] in ("deposit", "transfer_in") else -1
        running += sign * transaction["amount"]
        assert transaction["balance_after"] == running, (account["id"], transaction)
    assert account["balance"] == running, account
    if newest_first:
        assert newest_first[0]["balance_after"] == account["balance"], account


def check_transfer_legs(
    transfers: dict[str, dict[str, Any]], history: dict[str, list[dict[str, Any]]]
) -> None:
    """Each completed transfer moved money exactly once each way; a failed one moved none."""
    legs: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for account_id, transactions in history.items():
        for tx in transactions:
            if tx["transfer_id"] is not None:
                legs[tx["transfer_id"]].append((tx["kind"], account_id, tx["amount"]))
    for transfer_id, transfer in transfers.items():
        moved = sorted(legs.pop(transfer_id, []))
        if transfer["status"] == "completed":
            amount = transfer["amount"]
            out = ("transfer_out", transfer["source_account_id"], amount)
            assert moved == sorted([("transfer_in", transfer["target_account_id"], amount), out])
        else:
            assert moved == [], (transfer, moved)
    assert not legs, f"transactions of unknown transfers: {dict(list(legs.items())[:3])}"


BANK_TRANSFERS, CLIENTS = 200, 8
#: Distributed mode drains 200 transfers in 15-40 s on a busy 2-core machine.
SETTLE_SECONDS = 60


def run_bank_workload(bank: Bank, seed: int) -> None:
    """The bank test of Transfers: 200 random concurrent transfers, checked in flight and after."""
    planned = plan_transfers(bank, BANK_TRANSFERS, random.Random(seed))  # noqa: S311 (seeded)
    with BalanceSampler(bank) as sampler:
        submissions = submit_all(bank, planned, CLIENTS)
        transfers = settle(bank, set(submissions.accepted), timeout=SETTLE_SECONDS)
    assert submissions.refused == [] and len(submissions.accepted) == BANK_TRANSFERS
    assert sampler.violations == [], sampler.violations[:5]
    assert sampler.samples >= len(bank.accounts)  # the invariants were read mid-flight
    outcomes = check_failure_reasons(transfers, submissions.accepted)
    for reason in (CLOSED, CURRENCY, INSUFFICIENT, UNKNOWN):
        assert outcomes[reason] >= BANK_TRANSFERS // 48, outcomes  # 1 in 16 planned so
    assert outcomes["completed"] >= BANK_TRANSFERS // 3, outcomes
    check_books(bank, transfers)
