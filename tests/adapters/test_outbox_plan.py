"""The relay's outbox query on a fresh PostgreSQL schema: index lookups, not a walk of `events`.

A fresh schema has no statistics until autovacuum analyzes it, and the planner then guesses
table sizes; the query must not depend on those guesses being right.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

pytestmark = pytest.mark.postgres

EVENTS, OUTBOX_ROWS = 5000, 20


def fill(engine: Engine) -> None:
    """Many dispatched events and a short backlog: what a running deployment's tables hold."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (event_id, stream_id, stream_type, version, type,"
                " schema_version, data, metadata, occurred_at)"
                " SELECT 'e-' || n, 's-' || n, 'Account', 1, 'MoneyDeposited', 1, '{}', '{}', now()"
                " FROM generate_series(1, :n) AS n"
            ),
            {"n": EVENTS},
        )
        connection.execute(
            text("INSERT INTO outbox SELECT position FROM events ORDER BY position DESC LIMIT :n"),
            {"n": OUTBOX_ROWS},
        )


def pending_statement(engine: Engine, after: int) -> tuple[str, Any]:
    """The SQL and parameters the outbox adapter really sends for `pending`."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            assert len(uow.outbox.pending(1000, after=after)) == OUTBOX_ROWS
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return next((sql, params) for sql, params in seen if "outbox" in sql)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


@pytest.mark.parametrize("after", [0, 10])
def test_outbox_query_reads_only_the_pending_events_on_a_fresh_schema(
    postgres_engine: Engine, after: int
) -> None:
    fill(postgres_engine)
    statement, parameters = pending_statement(postgres_engine, after)
    with postgres_engine.connect() as connection:
        raw = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
        plan = raw.scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    on_events = [n for n in plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "events"]
    assert on_events, "the plan reads the events table somewhere"
    assert all(node["Node Type"] != "Seq Scan" for node in on_events), on_events
    assert all(node["Actual Rows"] <= OUTBOX_ROWS for node in on_events), on_events
