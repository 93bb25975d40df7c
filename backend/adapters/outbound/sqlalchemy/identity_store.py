"""SQL adapters of the identity ports: users, refresh tokens and the token denylist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.outbound.sqlalchemy.bulk import among, sqlite_datetime, value_set
from backend.adapters.outbound.sqlalchemy.driver import fetch_all
from backend.adapters.outbound.sqlalchemy.engine import deferred, single_reads
from backend.adapters.outbound.sqlalchemy.identity_tables import (
    as_utc,
    refresh_tokens,
    token_denylist,
    users,
)
from backend.application.identity import EmailTaken
from backend.application.ports.tokens import RefreshToken
from backend.application.ports.users import User


class SqlAlchemyUserRepository:
    """UserRepository port; the unique email constraint settles concurrent registrations."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, user: User) -> None:
        row = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(users).values(**row))
        except IntegrityError:
            raise EmailTaken(user.email) from None

    def by_email(self, email: str) -> User | None:
        return self._one(users.c.email == email)

    def by_id(self, user_id: str) -> User | None:
        return self._one(users.c.id == user_id)

    def _one(self, condition: Any) -> User | None:
        with deferred(self._engine).connect() as connection:
            row = connection.execute(select(users).where(condition)).mappings().first()
        if row is None:
            return None
        created_at = as_utc(row["created_at"])
        return User(row["id"], row["email"], row["name"], row["password_hash"], created_at)


class SqlAlchemyRefreshTokenStore:
    """RefreshTokenStore port; rotation is one conditional UPDATE, so only one twin wins."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, token: RefreshToken) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                insert(refresh_tokens).values(
                    token_hash=token.token_hash,
                    family_id=token.family_id,
                    user_id=token.user_id,
                    issued_at=token.issued_at,
                    expires_at=token.expires_at,
                    rotated_at=token.rotated_at,
                    revoked=token.revoked,
                )
            )

    def get(self, token_hash: str) -> RefreshToken | None:
        query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        with deferred(self._engine).connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        rotated = row["rotated_at"]
        return RefreshToken(
            row["token_hash"],
            row["family_id"],
            row["user_id"],
            as_utc(row["issued_at"]),
            as_utc(row["expires_at"]),
            as_utc(rotated) if rotated is not None else None,
            bool(row["revoked"]),
        )

    def mark_rotated(self, token_hash: str, at: datetime) -> bool:
        statement = (
            update(refresh_tokens)
            .where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.rotated_at.is_(None),
                refresh_tokens.c.revoked.is_(False),
            )
            .values(rotated_at=at)
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def revoke_family(self, family_id: str) -> None:
        statement = (
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id)
            .values(revoked=True)
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def purge(self, expired_by: datetime) -> None:
        statement = delete(refresh_tokens).where(refresh_tokens.c.expires_at <= expired_by)
        with self._engine.begin() as connection:
            connection.execute(statement)


@lru_cache(maxsize=2)
def _any_revoked_sql(dialect: str) -> str:
    """Every authenticated request asks this, so it goes to the driver as one statement."""
    placeholder = "?" if dialect == "sqlite" else "%s"
    # Only our own identifiers and placeholders go into the text; values are bound.
    return (
        f"SELECT 1 FROM token_denylist WHERE {among(dialect, 'token_id')}"  # noqa: S608
        f" AND expires_at > {placeholder} LIMIT 1"
    )


class SqlAlchemyTokenDenylist:
    """TokenDenylist port on SQL; expired entries are purged on each revoke."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = single_reads(engine)

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None:
        table = token_denylist
        with self._engine.begin() as connection:
            # Delete-then-insert is an upsert on both dialects; the purge keeps the table small.
            connection.execute(delete(table).where(table.c.expires_at <= now))
            connection.execute(delete(table).where(table.c.token_id == token_id))
            connection.execute(insert(table).values(token_id=token_id, expires_at=until))

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        with self._reads.connect() as connection:
            dialect = connection.dialect.name
            at = sqlite_datetime(now) if dialect == "sqlite" else now
            params = (value_set(dialect, token_ids), at)
            return bool(fetch_all(connection, _any_revoked_sql(dialect), params))
