"""Core tables of identity and request bookkeeping: users, refresh tokens, the access-token
denylist and idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from backend.adapters.outbound.sqlalchemy.schema import metadata

ID_LENGTH = 128
HASH_LENGTH = 64

users = Table(
    "users",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    # Stored normalised (lower case), so the unique constraint is case-insensitive.
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("email", name="uq_users_email"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(HASH_LENGTH), primary_key=True),
    Column("family_id", String(ID_LENGTH), nullable=False),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

token_denylist = Table(
    "token_denylist",
    metadata,
    Column("token_id", String(ID_LENGTH), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_token_denylist_expires_at", "expires_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", String(ID_LENGTH), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(HASH_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("result", JSON, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for DateTime(timezone=True): they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
