"""Refresh tokens: an index on their expiry, for the purge of expired ones.

Revision ID: 0005_refresh_token_expiry
Revises: 0004_messaging
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_refresh_token_expiry"
down_revision: str | Sequence[str] | None = "0004_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens")
