"""What `hexbank audit verify` reads from a SQL deployment: the log and the live read models."""

from __future__ import annotations

import functools

from sqlalchemy import Engine

from backend.adapters.outbound.memory.read_models import InMemoryScratchReadModels
from backend.adapters.outbound.sqlalchemy.engine import deferred
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.audit.verify import AuditSources


def audit_sources_for(engine: Engine) -> AuditSources:
    """The primary's log and rows (never a replica's: the rows are compared with the log they
    came from), read only: on SQLite DEFERRED transactions, never the write lock. The log is
    refolded into scratch read models in memory."""
    reads, reader = deferred(engine), SqlAlchemyReadModelReader(engine)
    uow_factory = functools.partial(SqlAlchemyUnitOfWork, reads)
    return AuditSources(uow_factory, reader, reader, InMemoryScratchReadModels(), reader)
