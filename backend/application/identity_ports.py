"""Ports of identity, token revocation, rate limiting and idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class User:
    """A registered user; `email` is stored normalised (trimmed, lower case)."""

    id: str
    email: str
    name: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One refresh token of a login ("family"); only its hash is ever stored."""

    token_hash: str
    family_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    token_id: str
    family_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request fits its budget, and when to retry when it does not."""

    allowed: bool
    retry_after: int = 0


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Idempotency-Key of one user: what its first request asked and what it answered."""

    user_id: str
    key: str
    fingerprint: str
    created_at: datetime
    #: The first request's result as a JSON document (idempotency.ResultCodec).
    result: dict[str, Any] = field(default_factory=dict)


class InvalidToken(Exception):
    """A token that is malformed, forged, expired, not yet valid or for another audience."""


class UserRepository(Protocol):
    """Registered users."""

    def add(self, user: User) -> None:
        """Store a new user; raise EmailTaken when the email is already registered."""
        ...

    def by_email(self, email: str) -> User | None: ...

    def by_id(self, user_id: str) -> User | None: ...


class RefreshTokenStore(Protocol):
    """Refresh tokens by hash, grouped in families (one per login)."""

    def add(self, token: RefreshToken) -> None: ...

    def get(self, token_hash: str) -> RefreshToken | None: ...

    def mark_rotated(self, token_hash: str, at: datetime) -> bool:
        """Mark a live token used; False when it was already rotated or revoked (atomic)."""
        ...

    def revoke_family(self, family_id: str) -> None: ...

    def purge(self, expired_by: datetime) -> None:
        """Forget tokens that expired by then: used or not, they can never be accepted again
        (a reused expired token is refused as unknown, which ends the same way)."""
        ...


class TokenDenylist(Protocol):
    """Revoked token and family ids, remembered until the tokens would have expired anyway."""

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None: ...

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool: ...


class PasswordHasher(Protocol):
    """One-way password hashing (argon2id)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class TokenIssuer(Protocol):
    """Signs and verifies access tokens."""

    def issue(self, claims: AccessClaims) -> str: ...

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """The token's claims; raise InvalidToken unless it is genuine and valid at `now`."""
        ...


class RateLimiter(Protocol):
    """Fixed-window counters: a window opens at a key's first hit and lasts `window` seconds."""

    def hit(self, key: str, limit: int, window: int) -> RateDecision:
        """Count one request against `key`; refused once more than `limit` fall in the window."""
        ...

    def peek(self, key: str, limit: int, window: int) -> RateDecision:
        """Whether `key` has budget left, without counting."""
        ...


class IdempotencyKeyStore(Protocol):
    """Idempotency keys per user, read and written inside a unit of work (its member)."""

    def hold(self, user_id: str, key: str) -> KeyRecord | None:
        """The key's record (None when unused), the key held until the transaction ends;
        raise IdempotencyKeyInUse while another open transaction holds it."""
        ...

    def add(self, record: KeyRecord) -> None:
        """Store a new key's record; ConcurrencyError when another transaction stored it first."""
        ...

    def forget(self, user_id: str, key: str) -> None:
        """Delete the key's record (an expired one, before the key is used again)."""
        ...

    def purge(self, created_before: datetime) -> None:
        """Forget keys created before `created_before` (they have expired)."""
        ...
