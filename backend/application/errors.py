"""Errors the application raises on top of the domain's own."""


class ApplicationError(Exception):
    """Base of application-level refusals."""


class ConcurrencyError(ApplicationError):
    """The stream moved since it was read (`UNIQUE(stream_id, version)` caught the race), or
    another transaction wrote the same unique row first; `stream_id` names the stream, if any."""

    def __init__(self, message: str, stream_id: str | None = None) -> None:
        super().__init__(message)
        self.stream_id = stream_id


class ConcurrentModification(ApplicationError):
    """Optimistic-concurrency retries ran out; the caller may try again."""


class NotFound(ApplicationError):
    """No such resource for this caller (or one the caller may not see)."""


class PreconditionFailed(ApplicationError):
    """The caller's expected version (`If-Match`) is not the current one."""


class UnmigratedDatabase(ApplicationError):
    """The database schema is missing or behind; run `hexbank migrate`."""
