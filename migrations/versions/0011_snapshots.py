"""Several snapshots per stream: the primary key becomes (stream_id, version).

`as_of` folds from the latest snapshot at or before the instant, so a stream keeps older
snapshots beside its latest, thinned out with age (backend/application/snapshot_retention.py).
The rows there are kept: each becomes its stream's only (so latest) snapshot.

Revision ID: 0011_snapshots
Revises: 0010_transfer_work
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_snapshots"
down_revision: str | Sequence[str] | None = "0010_transfer_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "snapshots"
KEY = "pk_snapshots"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        batch.drop_constraint(KEY, type_="primary")
        batch.create_primary_key(KEY, ["stream_id", "version"])


def downgrade() -> None:
    # Back to one per stream: only the latest of each survives.
    op.execute(
        "DELETE FROM snapshots WHERE version < "
        "(SELECT MAX(s.version) FROM snapshots s WHERE s.stream_id = snapshots.stream_id)"
    )
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        batch.drop_constraint(KEY, type_="primary")
        batch.create_primary_key(KEY, ["stream_id"])
