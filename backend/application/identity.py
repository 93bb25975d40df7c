"""Identity use cases: registration, login, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.application.errors import ApplicationError, NotFound
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.tokens import (
    AccessClaims,
    InvalidToken,
    RefreshToken,
    RefreshTokenStore,
    TokenDenylist,
    TokenIssuer,
)
from backend.application.ports.users import PasswordHasher, User, UserRepository
from backend.application.rate_limits import LoginThrottle

# Verified against when the email is unknown, so that both failures cost one hash.
_DUMMY_PASSWORD = "hexbank-dummy-password"  # noqa: S105 - not a credential
#: Expired refresh tokens are purged once every this many issued pairs.
PURGE_EVERY = 1000


class EmailTaken(ApplicationError):
    """A user with this email is already registered."""


class InvalidCredentials(ApplicationError):
    """Unknown email or wrong password (deliberately indistinguishable)."""


class Unauthenticated(ApplicationError):
    """A missing, invalid, expired or revoked token."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh hands out."""

    access_token: str
    refresh_token: str
    expires_in: int


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively: store and look up one canonical form."""
    return email.strip().lower()


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are high-entropy random strings, so a fast hash protects them at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class IdentityService:
    """Users and their tokens, over the identity ports."""

    users: UserRepository
    refresh_tokens: RefreshTokenStore
    denylist: TokenDenylist
    hasher: PasswordHasher
    issuer: TokenIssuer
    clock: Clock
    ids: IdGenerator
    throttle: LoginThrottle
    access_ttl: int = 900
    refresh_ttl: int = 30 * 86400

    def __post_init__(self) -> None:
        self._dummy_hash: str | None = None
        self._issued = 0

    def register(self, email: str, password: str, name: str) -> User:
        user = User(
            self.ids.new_id(),
            normalise_email(email),
            name,
            self.hasher.hash(password),
            self.clock.now(),
        )
        self.users.add(user)
        return user

    def user(self, user_id: str) -> User:
        user = self.users.by_id(user_id)
        if user is None:
            raise NotFound(f"user {user_id}")
        return user

    def login(self, email: str, password: str, address: str) -> TokenPair:
        """A new token pair; failures count towards the email's and the address's lockout."""
        email = normalise_email(email)
        self.throttle.check(email, address)
        try:
            user = self.authenticate(email, password)
        except InvalidCredentials:
            self.throttle.record_failure(email, address)
            raise
        return self._issue(user.id, self.ids.new_id())

    def authenticate(self, email: str, password: str) -> User:
        user = self.users.by_email(normalise_email(email))
        if user is None:
            self.hasher.verify(self._dummy(), password)  # same cost as a wrong password
            raise InvalidCredentials("bad credentials")
        if not self.hasher.verify(user.password_hash, password):
            raise InvalidCredentials("bad credentials")
        return user

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token dies; presenting a dead one revokes its whole login."""
        now = self.clock.now()
        token = self.refresh_tokens.get(hash_refresh_token(refresh_token))
        if token is None or token.expires_at <= now:
            raise Unauthenticated("unknown or expired refresh token")
        if not self.refresh_tokens.mark_rotated(token.token_hash, now):
            self._revoke_family(token.family_id)
            raise Unauthenticated("refresh token reused: the login is revoked")
        return self._issue(token.user_id, token.family_id)

    def verify_access(self, access_token: str) -> AccessClaims:
        """The claims of a genuine, unexpired, unrevoked access token."""
        now = self.clock.now()
        try:
            claims = self.issuer.verify(access_token, now)
        except InvalidToken as error:
            raise Unauthenticated(str(error)) from error
        if self.denylist.any_revoked([claims.token_id, claims.family_id], now):
            raise Unauthenticated("token revoked")
        return claims

    def logout(self, claims: AccessClaims, refresh_token: str) -> None:
        """Revoke the access token and the login (family) of it and of the refresh token."""
        self.denylist.revoke(claims.token_id, claims.expires_at, self.clock.now())
        self._revoke_family(claims.family_id)
        token = self.refresh_tokens.get(hash_refresh_token(refresh_token))
        if token is not None and token.user_id == claims.user_id:
            self._revoke_family(token.family_id)

    def _revoke_family(self, family_id: str) -> None:
        # Access tokens carry their family id: denylisting it for one access lifetime
        # kills every access token the login handed out, without a lookup per token.
        self.refresh_tokens.revoke_family(family_id)
        now = self.clock.now()
        self.denylist.revoke(family_id, now + timedelta(seconds=self.access_ttl), now)

    def _issue(self, user_id: str, family_id: str) -> TokenPair:
        now = self.clock.now()
        expires = now + timedelta(seconds=self.access_ttl)
        claims = AccessClaims(user_id, self.ids.new_id(), family_id, now, expires)
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens.add(
            RefreshToken(
                hash_refresh_token(refresh),
                family_id,
                user_id,
                now,
                now + timedelta(seconds=self.refresh_ttl),
            )
        )
        self._purge_now_and_then(now)
        return TokenPair(self.issuer.issue(claims), refresh, self.access_ttl)

    def _purge_now_and_then(self, now: datetime) -> None:
        # Every login and refresh adds a row; expired ones go in one indexed range delete now
        # and then. The counter is racy across threads: purging a little more or less often
        # is harmless.
        self._issued += 1
        if self._issued % PURGE_EVERY == 0:
            self.refresh_tokens.purge(now)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(_DUMMY_PASSWORD)
        return self._dummy_hash
