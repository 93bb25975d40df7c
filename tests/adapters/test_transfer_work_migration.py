"""Migration 0010 turns the sweeper's deadline index into the engines' work table: the
transfers an older release left pending are ready at once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.transfer_work import SqlAlchemyTransferClaims
from backend.entrypoints.cli.migrate import alembic_config, upgrade_database

BEFORE = "0009_feed"
DEADLINE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
_DEADLINES = sa.table(
    "transfer_deadlines",
    sa.column("transfer_id"),
    sa.column("deadline", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(name))


def test_pending_transfers_of_the_deadline_index_become_ready_work_and_back(
    database_url: str,
) -> None:
    upgrade_database(database_url, BEFORE)
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            rows = [{"transfer_id": f"t-{n}", "deadline": DEADLINE} for n in (1, 2)]
            connection.execute(sa.insert(_DEADLINES), rows)
        upgrade_database(database_url)
        claims = SqlAlchemyTransferClaims(engine)
        now = datetime.now(UTC) + timedelta(seconds=1)
        assert claims.ready(now)
        claimed = claims.claim(now, timedelta(seconds=10), 10)
        assert sorted(c.transfer_id for c in claimed) == ["t-1", "t-2"]
        assert {(c.requested_at, c.attempts) for c in claimed} == {(DEADLINE, 1)}
        command.downgrade(alembic_config(database_url), BEFORE)
        with engine.connect() as connection:
            back = connection.execute(sa.select(_DEADLINES.c.transfer_id)).scalars().all()
        assert sorted(back) == ["t-1", "t-2"]
    finally:
        engine.dispose()
