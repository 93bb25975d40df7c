"""`verify`: hash chains and read-model rows re-checked against the log (in-memory adapters)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.read_models import (
    InMemoryReadModelReader,
    InMemoryScratchReadModels,
)
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.audit.verify import AuditReport, AuditSources, verify
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import StoredEvent
from backend.application.projections import default_projections
from tests.read_side import Bank, ReadSide


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def side(db: InMemoryDatabase) -> ReadSide:
    return ReadSide("memory", lambda: InMemoryUnitOfWork(db), InMemoryReadModelReader(db))


def busy_bank(side: ReadSide) -> Bank:
    """Two accounts, money moved both ways, a completed and a pending transfer."""
    bank = side.bank()
    bank.runner.snapshot_every = 2  # snapshots of both kinds of stream, to be checked too
    bank.open("acc-a", "alice")
    bank.open("acc-b", "bob")
    bank.deposit("acc-a", 500)
    bank.withdraw("acc-a", 50)
    bank.transfer("tr-1", "acc-a", "acc-b", 100, "alice")
    bank.clock.advance(days=1)
    bank.request("tr-2", "acc-b", "acc-a", 30, "bob")
    return bank


def audit(db: InMemoryDatabase) -> AuditReport:
    reader = InMemoryReadModelReader(db)
    sources = AuditSources(
        lambda: InMemoryUnitOfWork(db), reader, reader, InMemoryScratchReadModels(), reader
    )
    return verify(sources, default_projections(default_codec()), default_codec())


def tamper_event(db: InMemoryDatabase, stream_id: str, version: int, **changes: object) -> None:
    """Rewrite a stored event behind the store's back, keeping its hash."""
    (old,) = [e for e in db.streams[stream_id] if e.version == version]
    new: StoredEvent = dataclasses.replace(old, **changes)  # type: ignore[arg-type]
    db.events[db.events.index(old)] = new
    db.streams[stream_id][version - 1] = new


def test_an_untouched_bank_verifies_with_counts_and_a_digest(
    db: InMemoryDatabase, side: ReadSide
) -> None:
    busy_bank(side)
    side.follower().catch_up()
    report = audit(db)
    assert report.intact, report
    assert (report.events, report.streams) == (len(db.events), 4)
    assert len(report.digest) == 64
    assert report.rows == 2 + 4 + 2 + 2  # summaries, transactions, days, transfers


def test_a_follower_that_has_not_caught_up_is_no_error(
    db: InMemoryDatabase, side: ReadSide
) -> None:
    bank = busy_bank(side)  # the inline projector wrote the account rows; no follower ran
    bank.deposit("acc-b", 7)
    assert audit(db).intact


def test_changed_event_data_names_its_stream_and_version(
    db: InMemoryDatabase, side: ReadSide
) -> None:
    busy_bank(side)
    tamper_event(db, "acc-a", 2, data={**db.streams["acc-a"][1].data, "amount": 5000})
    report = audit(db)
    assert report.chain_break is not None
    assert (report.chain_break.stream_id, report.chain_break.version) == ("acc-a", 2)


@pytest.mark.parametrize(
    "changes",
    [
        {"occurred_at": datetime(2020, 1, 1, tzinfo=UTC)},
        {"type": "MoneyWithdrawn"},
        {"hash": "0" * 64},
    ],
    ids=["time", "type", "hash"],
)
def test_any_changed_field_breaks_the_chain(
    db: InMemoryDatabase, side: ReadSide, changes: dict[str, object]
) -> None:
    busy_bank(side)
    tamper_event(db, "tr-1", 3, **changes)
    broken = audit(db).chain_break
    assert broken is not None and (broken.stream_id, broken.version) == ("tr-1", 3)


def test_a_removed_event_breaks_the_chain_at_the_next(db: InMemoryDatabase, side: ReadSide) -> None:
    busy_bank(side)
    removed = db.streams["acc-b"].pop(1)
    db.events.remove(removed)
    broken = audit(db).chain_break
    assert broken is not None and (broken.stream_id, broken.version) == ("acc-b", 3)
    assert "does not follow version 1" in broken.reason


def test_a_changed_summary_names_its_account_and_the_field(
    db: InMemoryDatabase, side: ReadSide
) -> None:
    busy_bank(side)
    summaries = db.read_models.summaries
    summaries["acc-b"] = dataclasses.replace(summaries["acc-b"], balance=1_000_000)
    report = audit(db)
    assert report.chain_break is None
    mismatch = report.mismatch
    assert mismatch is not None
    assert (mismatch.table, mismatch.belongs_to) == ("account_summaries", "acc-b")
    assert [name for name, _, _ in mismatch.fields] == ["balance"]


def test_a_deleted_transaction_row_is_missing(db: InMemoryDatabase, side: ReadSide) -> None:
    busy_bank(side)
    side.follower().catch_up()
    (deposit,) = [t for t in db.read_models.transactions.values() if t.kind == "deposit"]
    del db.read_models.transactions[deposit.transaction_id]
    mismatch = audit(db).mismatch
    assert mismatch is not None
    assert (mismatch.table, mismatch.belongs_to, mismatch.reason) == (
        "transactions", "acc-a", "is missing",
    )  # fmt: skip


def test_a_changed_transfer_view_names_its_transfer(db: InMemoryDatabase, side: ReadSide) -> None:
    busy_bank(side)
    side.follower().catch_up()
    views = db.read_models.transfers
    views["tr-1"] = dataclasses.replace(views["tr-1"], status="failed")
    mismatch = audit(db).mismatch
    assert mismatch is not None and (mismatch.table, mismatch.belongs_to) == (
        "transfer_views", "tr-1",
    )  # fmt: skip


def test_a_row_behind_its_checkpoint_is_reported(db: InMemoryDatabase, side: ReadSide) -> None:
    bank = busy_bank(side)
    side.follower().catch_up()
    bank.deposit("acc-b", 9)
    side.follower().catch_up()
    # An honest fold of an older prefix, but the checkpoint vouches for the newer one.
    days = db.read_models.daily
    key = ("acc-b", bank.clock.now().date())
    days[key] = dataclasses.replace(days[key], version=days[key].version - 1)
    mismatch = audit(db).mismatch
    assert mismatch is not None and mismatch.table == "daily_totals"
    assert mismatch.belongs_to == "acc-b"


def test_an_untouched_bank_checks_every_snapshot(db: InMemoryDatabase, side: ReadSide) -> None:
    busy_bank(side)
    report = audit(db)
    older = sum(len(kept) for kept in db.older_snapshots.values())
    assert report.intact and report.snapshots == len(db.snapshots) + older == 6


def test_a_changed_snapshot_names_its_stream_and_the_field(
    db: InMemoryDatabase, side: ReadSide
) -> None:
    busy_bank(side)
    snapshot = db.snapshots["acc-a"]
    db.snapshots["acc-a"] = dataclasses.replace(
        snapshot, state={**snapshot.state, "balance": snapshot.state["balance"] + 1000}
    )
    report = audit(db)
    assert report.chain_break is None and report.mismatch is None
    changed = report.snapshot_mismatch
    assert changed is not None and changed.belongs_to == "acc-a"
    assert [name for name, _, _ in changed.fields] == ["balance"]
