"""Idempotency keys: the first request with a key runs, its twins replay its response.

Protocol: claim the key (a committed "in progress" row, unique per user and key) → run the
command → inside the command's own transaction, write the response into the key's row →
commit. A crash therefore never leaves a key with a response but no effect, or the reverse;
a claim whose request died is taken over once its short lease has run out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from backend.application.errors import ApplicationError
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.idempotency import (
    IdempotencyRecord,
    IdempotencyStore,
    StoredResponse,
)
from backend.application.ports.unit_of_work import UnitOfWork

KEY_TTL = timedelta(hours=24)
LEASE = timedelta(seconds=30)
#: Expired keys are purged once every this many claims (cheap: an indexed range delete).
PURGE_EVERY = 1000
#: The Retry-After of a key in use: a running first request is usually done within it, and one
#: that died frees its key when its lease runs out, which a client retrying this often sees soon.
IN_USE_RETRY_AFTER_SECONDS = 1


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
class Claim:
    """The right to run a key's command once; hand it back through complete() or release()."""

    record: IdempotencyRecord


@dataclass
class IdempotencyService:
    """Claims, completes, replays and frees Idempotency-Keys over an IdempotencyStore."""

    store: IdempotencyStore
    clock: Clock
    ids: IdGenerator
    ttl: timedelta = KEY_TTL
    lease: timedelta = LEASE

    def __post_init__(self) -> None:
        self._claims = 0

    def begin(self, user_id: str, key: str, digest: str) -> Claim | StoredResponse:
        """A Claim to run the command, or the first response to replay."""
        record = self._new_record(user_id, key, digest)
        self._purge_now_and_then()
        # Bounded: each round either wins, replays, raises, or lost a take-over race to a twin.
        for _ in range(3):
            existing = self.store.claim(record)
            if existing is None:
                return Claim(record)
            outcome = self._judge(existing, digest)
            if outcome is not None:
                return outcome
            if self.store.take_over(existing, record):
                return Claim(record)
        raise IdempotencyKeyInUse(f"idempotency key {key!r} is being taken over")

    def complete(self, uow: UnitOfWork, claim: Claim, response: StoredResponse) -> None:
        """Record the response in the command's transaction (call before it commits)."""
        uow.idempotency_keys.complete(claim.record, response)

    def release(self, claim: Claim) -> None:
        """The command failed without effect: free the key for a retry."""
        self.store.release(claim.record)

    def _judge(self, existing: IdempotencyRecord, digest: str) -> StoredResponse | None:
        """The response to replay; None when the existing record is stale and may be replaced."""
        now = self.clock.now()
        if existing.created_at + self.ttl <= now:
            return None
        if existing.fingerprint != digest:
            raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
        if existing.response is not None:
            return existing.response
        if existing.lease_expires_at <= now:
            return None  # its request died before finishing: nothing was committed
        raise IdempotencyKeyInUse("a request with this Idempotency-Key is still running")

    def _purge_now_and_then(self) -> None:
        # The counter is racy across threads; purging a little more or less often is harmless.
        self._claims += 1
        if self._claims % PURGE_EVERY == 0:
            self.store.purge(self.clock.now() - self.ttl)

    def _new_record(self, user_id: str, key: str, digest: str) -> IdempotencyRecord:
        now = self.clock.now()
        return IdempotencyRecord(user_id, key, digest, now, self.ids.new_id(), now + self.lease)
