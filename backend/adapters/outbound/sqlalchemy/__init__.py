"""SQLAlchemy adapters.

The schema is imported first, whichever module of this package is imported: schema.py
registers every table module, and some of those import the stores, so entering through a
store module (event_store -> tables -> schema -> a store -> event_store) would be circular.
"""

from backend.adapters.outbound.sqlalchemy import schema as _schema  # noqa: F401
