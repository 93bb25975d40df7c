"""The database schema: one MetaData that Alembic migrations are generated from."""

from __future__ import annotations

from sqlalchemy import MetaData

# Deterministic constraint names, so that migrations can drop and alter them on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Register every module's tables on `metadata` (they import it, hence the import at the end),
# so that Alembic and create_all see the whole schema.
from backend.adapters.outbound.sqlalchemy import (  # noqa: E402
    event_feed_tables,  # noqa: F401
    event_store_tables,  # noqa: F401
    identity_tables,  # noqa: F401
    read_model_tables,  # noqa: F401
    transfer_work,  # noqa: F401
)
