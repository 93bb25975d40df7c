"""In-memory adapters of the identity ports (tests and the in-memory application)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from backend.application.identity import EmailTaken
from backend.application.ports.tokens import RefreshToken
from backend.application.ports.users import User


class InMemoryUserRepository:
    """UserRepository port over two dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, User] = {}
        self._by_email: dict[str, User] = {}

    def add(self, user: User) -> None:
        with self._lock:
            if user.email in self._by_email:
                raise EmailTaken(user.email)
            self._by_id[user.id] = self._by_email[user.email] = user

    def by_email(self, email: str) -> User | None:
        return self._by_email.get(email)

    def by_id(self, user_id: str) -> User | None:
        return self._by_id.get(user_id)


class InMemoryRefreshTokenStore:
    """RefreshTokenStore port; a lock makes rotation atomic like the SQL conditional update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, RefreshToken] = {}

    def add(self, token: RefreshToken) -> None:
        with self._lock:
            self._tokens[token.token_hash] = token

    def get(self, token_hash: str) -> RefreshToken | None:
        return self._tokens.get(token_hash)

    def mark_rotated(self, token_hash: str, at: datetime) -> bool:
        with self._lock:
            token = self._tokens.get(token_hash)
            if token is None or token.rotated_at is not None or token.revoked:
                return False
            self._tokens[token_hash] = replace(token, rotated_at=at)
            return True

    def revoke_family(self, family_id: str) -> None:
        with self._lock:
            for key, token in self._tokens.items():
                if token.family_id == family_id:
                    self._tokens[key] = replace(token, revoked=True)

    def purge(self, expired_by: datetime) -> None:
        with self._lock:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > expired_by}


class InMemoryTokenDenylist:
    """TokenDenylist port: ids with their expiry, purged as they lapse."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None:
        with self._lock:
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[token_id] = until

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        with self._lock:
            return any(self._until.get(token_id, now) > now for token_id in token_ids)
