"""Migration 0006 gives the events an older release wrote their hash chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.audit.chains import check_chains
from backend.application.ports.event_store import EventMetadata, NewEvent
from backend.entrypoints.cli.migrate import alembic_config, upgrade_database

WHEN = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
_OLD_EVENTS = sa.table(
    "events",
    *(sa.column(n) for n in ("event_id", "stream_id", "stream_type", "version", "type")),
    sa.column("schema_version"),
    sa.column("data", sa.JSON),
    sa.column("metadata", sa.JSON),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
)


def old_rows() -> list[dict[str, object]]:
    """Two interleaved streams, one with a v1 deposit and metadata missing some keys."""
    opened = {"owner_id": "o", "name": "Old", "currency": "EUR"}
    rows = [
        ("acc-1", 1, "AccountOpened", 1, opened),
        ("acc-2", 1, "AccountOpened", 1, opened),
        ("acc-1", 2, "MoneyDeposited", 1, {"amount": "10.50"}),
        ("acc-2", 2, "MoneyDeposited", 2, {"amount": 7, "currency": "EUR", "reference": "é"}),
        ("acc-1", 3, "MoneyDeposited", 2, {"amount": 1, "currency": "EUR", "reference": None}),
    ]
    return [
        {
            "event_id": f"e-{i}",
            "stream_id": stream,
            "stream_type": "account",
            "version": version,
            "type": kind,
            "schema_version": schema,
            "data": data,
            "metadata": {"correlation_id": f"c-{i}"},
            "occurred_at": WHEN + timedelta(seconds=i),
        }
        for i, (stream, version, kind, schema, data) in enumerate(rows)
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue(
            f"{'sqlite' if request.param == 'sqlite' else 'fresh_postgres'}_url"
        )
    )


def test_existing_events_get_their_chains_and_later_appends_continue_them(
    database_url: str,
) -> None:
    upgrade_database(database_url, "0005_refresh_token_expiry")
    engine = create_engine_for(database_url)
    with engine.begin() as connection:
        connection.execute(sa.insert(_OLD_EVENTS), old_rows())
    upgrade_database(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        stored = uow.events.read_all()
    assert all(len(event.hash) == 64 for event in stored)
    chains, broken = check_chains(lambda: SqlAlchemyUnitOfWork(engine))
    assert broken is None and (chains.events, len(chains.heads)) == (5, 2)
    later = NewEvent("e-new", "MoneyDeposited", 2, {"amount": 2}, EventMetadata(), WHEN)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.events.append("acc-1", "account", 3, [later])
        uow.commit()
    chains, broken = check_chains(lambda: SqlAlchemyUnitOfWork(engine))
    assert broken is None and chains.events == 6
    engine.dispose()


def test_the_backfill_computes_the_very_hashes_the_store_wrote(database_url: str) -> None:
    """One canonical form: hashes written at append time survive a downgrade and re-upgrade."""
    upgrade_database(database_url)
    engine = create_engine_for(database_url)
    moments = [WHEN, WHEN.astimezone(timezone(timedelta(hours=-5))), WHEN + timedelta(days=9)]
    with SqlAlchemyUnitOfWork(engine) as uow:
        for i, moment in enumerate(moments, start=1):
            data = {"amount": i, "currency": "EUR", "reference": "é ✓ \u2028" * i}
            event = NewEvent(
                f"e-{i}", "MoneyDeposited", 2, data, EventMetadata(user_id="u"), moment
            )
            uow.events.append("acc-1", "account", i - 1, [event])
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        written = [event.hash for event in uow.events.read_all()]
    command.downgrade(alembic_config(database_url), "0005_refresh_token_expiry")
    upgrade_database(database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert [event.hash for event in uow.events.read_all()] == written
    engine.dispose()
