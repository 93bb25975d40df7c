"""Idempotency keys: the first request with a key runs, its twins replay its result.

The key's record is written in the command's own transaction, with its effect: a request
costs one transaction, and a crash never leaves a key without its effect or the reverse. While
that transaction is open the store holds the key, so a twin arriving meanwhile is told the key
is in use; once it committed, the twin finds the record and replays the result without running
anything. A command the domain refuses (insufficient funds, a closed or unknown account) has its
refusal recorded the same way, and its twins get the same refusal again; any other failure
(a conflict, an outage) rolls back, and its key with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from backend.application.errors import ApplicationError
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.idempotency import KeyRecord
from backend.application.ports.unit_of_work import UnitOfWork

KEY_TTL: Final = timedelta(hours=24)
#: Expired keys are purged once every this many keyed commands (an indexed range delete).
PURGE_EVERY: Final = 1000
#: The Retry-After of a key in use: a running first request is usually done within it.
IN_USE_RETRY_AFTER_SECONDS: Final = 1
#: Set on a refusal raised again from a key's record (the HTTP layer marks its answer).
_REPLAYED_ATTRIBUTE: Final = "idempotent_replayed"


class IdempotencyKeyReused(ApplicationError):
    """The key was first used with a different request."""


class IdempotencyKeyInUse(ApplicationError):
    """The key's first request is still running; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = IN_USE_RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of what a request asks for: same key + same fingerprint = same request."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An Idempotency-Key as a request presents it: whose, which, and what the request asks."""

    user_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Replay:
    """What a key's first request answered, to be answered again: its result, or the refusal
    it got (`refusal` not None, then `result` is None)."""

    result: Any
    refusal: Exception | None = None


def is_replayed(error: BaseException) -> bool:
    """Whether `error` is a key's recorded refusal raised again for a twin."""
    return bool(getattr(error, _REPLAYED_ATTRIBUTE, False))


class ResultCodec:
    """Keyed commands' results (flat dataclasses) to JSON documents and back, and the
    refusals worth recording (exception types built from their message alone)."""

    def __init__(
        self, *result_types: type[Any], refusals: tuple[type[Exception], ...] = ()
    ) -> None:
        self._types = {cls.__name__: cls for cls in result_types}
        self._refusals = {cls.__name__: cls for cls in refusals}

    def records(self, error: BaseException) -> bool:
        """Whether `error` is a refusal a key records (exactly one of the listed types)."""
        return self._refusals.get(type(error).__name__) is type(error)

    def encode(self, result: Any) -> dict[str, Any]:
        data = {f.name: _plain(getattr(result, f.name)) for f in dataclasses.fields(result)}
        return {"type": type(result).__name__, "data": data}

    def encode_refusal(self, error: Exception) -> dict[str, Any]:
        return {"refusal": type(error).__name__, "message": str(error)}

    def decode(self, document: dict[str, Any]) -> Replay:
        if "refusal" in document:
            error = self._refusals[document["refusal"]](document["message"])
            setattr(error, _REPLAYED_ATTRIBUTE, True)
            return Replay(None, error)
        cls = self._types[document["type"]]
        hints = typing.get_type_hints(cls)
        data = document["data"]
        return Replay(cls(**{name: _typed(hints[name], value) for name, value in data.items()}))


class KeyRecords:
    """Finds and writes key records in a command's unit of work, for the command bus."""

    def __init__(self, clock: Clock, results: ResultCodec, ttl: timedelta = KEY_TTL) -> None:
        self._clock, self._results, self._ttl = clock, results, ttl
        self._written = 0

    def first_result(self, uow: UnitOfWork, key: IdempotencyKey) -> Replay | None:
        """The first request's result; None when this request is the first (the key is now
        held until the unit of work ends). IdempotencyKeyReused for another request."""
        record = uow.idempotency_keys.hold(key.user_id, key.key)
        if record is None:
            return None
        if record.created_at + self._ttl <= self._clock.now():
            uow.idempotency_keys.forget(key.user_id, key.key)  # expired: the key is free again
            return None
        if record.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
        return self._results.decode(record.result)

    def records_refusal(self, error: BaseException) -> bool:
        """Whether a command refused with `error` is recorded (then replayed) under its key."""
        return self._results.records(error)

    def remember(self, uow: UnitOfWork, key: IdempotencyKey, result: Any) -> None:
        """Write the key's record with the command's result, before the command commits."""
        self._add(uow, key, self._results.encode(result))

    def remember_refusal(self, uow: UnitOfWork, key: IdempotencyKey, error: Exception) -> None:
        """Write the key's record with the command's refusal (nothing else is written)."""
        self._add(uow, key, self._results.encode_refusal(error))

    def _add(self, uow: UnitOfWork, key: IdempotencyKey, document: dict[str, Any]) -> None:
        now = self._clock.now()
        uow.idempotency_keys.add(KeyRecord(key.user_id, key.key, key.fingerprint, now, document))
        # The counter is racy across threads; purging a little more or less often is harmless.
        self._written += 1
        if self._written % PURGE_EVERY == 0:
            uow.idempotency_keys.purge(now - self._ttl)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _typed(hint: Any, value: Any) -> Any:
    """A JSON value back as the field's type: ISO text for datetime fields, else as is."""
    wants_datetime = hint is datetime or datetime in typing.get_args(hint)
    if wants_datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
