"""Tables of the event feed: its checkpoint, its subjects, the users' entries, the webhooks
and their deliveries. Only the feed follower, the webhook commands and the senders write them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from backend.adapters.outbound.sqlalchemy.event_store_tables import JSON_DOCUMENT, POSITION
from backend.adapters.outbound.sqlalchemy.schema import metadata

ID = String(128)


def _at(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


feed_checkpoint = Table(
    "feed_checkpoint",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

feed_subjects = Table(
    "feed_subjects",
    metadata,
    Column("subject_id", ID, primary_key=True),
    Column("subject_type", String(32), nullable=False),
    Column("owner_id", ID, nullable=False),
    Column("target_account_id", ID, nullable=True),
    Column("target_owner_id", ID, nullable=True),
    Column("visible_to_target", Boolean, nullable=False),
    Column("state", JSON_DOCUMENT, nullable=False),
)

feed_entries = Table(
    "feed_entries",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("event_id", ID, nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject_type", String(32), nullable=False),
    Column("subject_id", ID, nullable=False),
    _at("occurred_at"),
    Column("data", JSON_DOCUMENT, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("seq", POSITION, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("user_id", ID, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON_DOCUMENT, nullable=False),
    Column("secret", String(128), nullable=False),
    _at("created_at"),
    Column("after_position", BigInteger, nullable=False),
    _at("blocked_until", nullable=True),
    Column("failures", Integer, nullable=False),
    Index("ix_webhooks_user", "user_id", "seq"),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("seq", POSITION, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("webhook_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_id", ID, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    _at("next_attempt_at"),
    _at("created_at"),
    _at("updated_at"),
    Column("lease", ID, nullable=True),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "seq"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_subject", "webhook_id", "subject_id", "position"),
    sqlite_autoincrement=True,
)
