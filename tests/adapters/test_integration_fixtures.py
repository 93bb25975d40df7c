"""The shared-server fixtures really isolate concurrent test runs from each other."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.integration_services import (
    delete_prefixed_keys,
    postgres_base_url,
    temporary_schema,
    unique_name,
)


def current_schema(url: str) -> str:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT current_schema()")).scalar())
    finally:
        engine.dispose()


def schema_exists(name: str) -> bool:
    engine = create_engine(postgres_base_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_namespace WHERE nspname = :name")
            return bool(connection.execute(query, {"name": name}).scalar())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_session_and_per_test_urls_use_different_private_schemas(
    postgres_url: str, fresh_postgres_url: str
) -> None:
    session_schema = current_schema(postgres_url)
    test_schema = current_schema(fresh_postgres_url)

    assert session_schema.startswith("hexbank_t_")
    assert test_schema.startswith("hexbank_t_")
    assert session_schema != test_schema


@pytest.mark.postgres
def test_tables_land_in_the_private_schema_and_go_with_it(postgres_url: str) -> None:
    with temporary_schema(postgres_base_url()) as url:
        schema = current_schema(url)
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE events (id integer)"))
            query = "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events'"
            where = connection.execute(text(query)).scalars()
            assert schema in list(where)
        engine.dispose()

    assert not schema_exists(schema)


@pytest.mark.redis
def test_only_keys_with_the_prefix_are_deleted(redis_url: str, redis_prefix: str) -> None:
    mine, theirs = unique_name(), unique_name()
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{mine}:a", 1)
        client.set(f"rq:queue:{mine}-default", 1)
        client.set(f"{theirs}:a", 1)
        delete_prefixed_keys(redis_url, mine)

        assert client.exists(f"{mine}:a", f"rq:queue:{mine}-default") == 0
        assert client.exists(f"{theirs}:a") == 1
        assert redis_prefix.startswith("hexbank_t_")
    finally:
        client.delete(f"{theirs}:a")
        client.close()
