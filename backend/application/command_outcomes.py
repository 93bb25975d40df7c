"""What the command bus answers and how patiently it retries: a command's outcome (for the
caller, and by name for metrics and logs) and its retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from backend.application.errors import ApplicationError, ConcurrentModification
from backend.application.ports.metrics import CONFLICT, ERROR, REJECTED
from backend.domain.errors import DomainError

R = TypeVar("R")


def failure_outcome(error: BaseException) -> str:
    """The outcome of a command that raised `error`."""
    if isinstance(error, ConcurrentModification):
        return CONFLICT
    if isinstance(error, DomainError | ApplicationError):
        return REJECTED
    return ERROR


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """A keyed command's result; `replayed` when it is the first request's, nothing run."""

    result: R
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, a conflicting command is tried again."""

    #: Enough for a hot account: after its first conflict a writer queues for the stream.
    max_attempts: int = 16
    base_delay: float = 0.002
    #: Backoff stops doubling here, so the whole budget stays well under a second.
    max_delay: float = 0.05
