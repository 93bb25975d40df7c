"""Event-store backends for the contract suites: in-memory, SQLite and PostgreSQL (migrated)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.event_store_tables import events, outbox
from backend.adapters.outbound.sqlalchemy.stream_loads import to_utc
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.unit_of_work import UnitOfWork

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


@dataclass(frozen=True)
class RawEvent:
    """A row as an older release might have written it, bypassing the codec."""

    event_id: str
    stream_id: str
    stream_type: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    occurred_at: datetime


@dataclass
class StoreBackend:
    """One event-store implementation: how to open a unit of work and write a raw row."""

    name: str
    uow: Callable[[], UnitOfWork]
    insert_raw: Callable[[RawEvent], None]
    engine: Engine | None = None


def migrate(url: str) -> Engine:
    """An engine on `url` after `alembic upgrade head` ran through migrations/env.py."""
    engine = create_engine_for(url)
    config = Config(str(ALEMBIC_INI))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return engine


def memory_backend() -> StoreBackend:
    db = InMemoryDatabase()

    def insert_raw(raw: RawEvent) -> None:
        with db.lock:
            position = db.events[-1].position + 1 if db.events else 1
            stored = StoredEvent(position, **vars(raw))
            db.events.append(stored)
            db.streams.setdefault(raw.stream_id, []).append(stored)
            db.outbox[position] = stored

    return StoreBackend("memory", lambda: InMemoryUnitOfWork(db), insert_raw)


def sql_backend(name: str, engine: Engine) -> StoreBackend:
    def insert_raw(raw: RawEvent) -> None:
        row = {
            **vars(raw),
            "metadata": raw.metadata.to_dict(),
            "occurred_at": to_utc(raw.occurred_at),
        }
        with engine.begin() as connection:
            position = connection.execute(insert(events).returning(events.c.position), row)
            connection.execute(insert(outbox), {"id": position.scalar_one()})

    return StoreBackend(name, lambda: SqlAlchemyUnitOfWork(engine), insert_raw, engine)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = migrate(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(fresh_postgres_url: str) -> Iterator[Engine]:
    engine = migrate(fresh_postgres_url)
    yield engine
    engine.dispose()  # before the schema is dropped: no connection may keep it locked


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_backend(request: pytest.FixtureRequest) -> StoreBackend:
    """Each event-store adapter in turn (the contract suites run against all of them)."""
    if request.param == "memory":
        return memory_backend()
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return sql_backend(request.param, engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store_backend(request: pytest.FixtureRequest) -> StoreBackend:
    """The SQL adapters only, for behaviour the in-memory twin has no equivalent of."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return sql_backend(request.param, engine)
