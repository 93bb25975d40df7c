"""One transfer engine of a deployment leads at a time; another takes over when it lets go
(or its process dies, which drops its session and the lock with it)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from backend.adapters.outbound.sqlalchemy.transfer_work import SqlAlchemyEngineLeadership
from tests.live_stack import wait_for

#: Ends the session holding this schema's leadership lock (and only that one).
TERMINATE_LEADER = """
WITH key AS (SELECT hashtextextended(current_schema() || '/engine', 0) AS k)
SELECT pg_terminate_backend(l.pid) FROM pg_locks l, key
WHERE l.locktype = 'advisory' AND l.objsubid = 1
  AND l.classid = ((k >> 32) & 4294967295)::bigint::text::oid
  AND l.objid = (k & 4294967295)::bigint::text::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


@pytest.mark.postgres
def test_on_postgresql_one_engine_leads_until_it_lets_go(postgres_engine: Engine) -> None:
    first, second = (SqlAlchemyEngineLeadership(postgres_engine, 0) for _ in range(2))
    assert first.lead() is True
    assert first.lead() is True  # kept: no new session, no new try
    assert second.lead() is False
    first.release()
    assert second.lead() is True
    assert first.lead() is False
    second.release()


@pytest.mark.postgres
def test_a_leader_whose_session_died_hands_the_lead_over(postgres_engine: Engine) -> None:
    leader, standby = (SqlAlchemyEngineLeadership(postgres_engine, 0) for _ in range(2))
    assert leader.lead() is True
    with postgres_engine.connect() as admin:  # the leader's process is killed: its session ends
        admin.execute(text(TERMINATE_LEADER))
    wait_for(standby.lead, 10, "the standby to take the lead")
    standby.release()
    leader.release()


@pytest.mark.postgres
def test_a_standby_asks_for_the_lead_at_most_once_a_period(postgres_engine: Engine) -> None:
    leader = SqlAlchemyEngineLeadership(postgres_engine, 0)
    standby = SqlAlchemyEngineLeadership(postgres_engine, retry_every=3600)
    assert leader.lead() is True
    assert standby.lead() is False
    leader.release()
    assert standby.lead() is False  # not asked again within the period: no query
    leader.release()


def test_on_sqlite_the_one_server_process_always_leads(sqlite_engine: Engine) -> None:
    first, second = (SqlAlchemyEngineLeadership(sqlite_engine) for _ in range(2))
    assert first.lead() is True
    assert second.lead() is True
