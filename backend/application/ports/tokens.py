"""The token ports: access tokens, refresh tokens and the revocation denylist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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


class InvalidToken(Exception):
    """A token that is malformed, forged, expired, not yet valid or for another audience."""


class RefreshTokenStore(Protocol):
    """Refresh tokens by hash, grouped in families (one per login)."""

    def add(self, token: RefreshToken) -> None:
        """Store a newly issued token."""
        ...

    def get(self, token_hash: str) -> RefreshToken | None:
        """The token with this hash, or None."""
        ...

    def mark_rotated(self, token_hash: str, at: datetime) -> bool:
        """Mark a live token used; False when it was already rotated or revoked (atomic)."""
        ...

    def revoke_family(self, family_id: str) -> None:
        """Revoke every token of the family (a logout, or a reused token)."""
        ...

    def purge(self, expired_by: datetime) -> None:
        """Forget tokens that expired by then: used or not, they can never be accepted again
        (a reused expired token is refused as unknown, which ends the same way)."""
        ...


class TokenDenylist(Protocol):
    """Revoked token and family ids, remembered until the tokens would have expired anyway."""

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None:
        """Deny `token_id` until `until` (and forget entries that expired by `now`)."""
        ...

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        """Whether any of these ids is denied at `now`."""
        ...


class TokenIssuer(Protocol):
    """Signs and verifies access tokens."""

    def issue(self, claims: AccessClaims) -> str:
        """A signed token carrying `claims`."""
        ...

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """The token's claims; raise InvalidToken unless it is genuine and valid at `now`."""
        ...
