"""The user ports: registered users and the password hashing that guards them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class User:
    """A registered user; `email` is stored normalised (trimmed, lower case)."""

    id: str
    email: str
    name: str
    password_hash: str
    created_at: datetime


class UserRepository(Protocol):
    """Registered users."""

    def add(self, user: User) -> None:
        """Store a new user; raise EmailTaken when the email is already registered."""
        ...

    def by_email(self, email: str) -> User | None:
        """The user with this (normalised) email, or None."""
        ...

    def by_id(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        ...


class PasswordHasher(Protocol):
    """One-way password hashing (argon2id)."""

    def hash(self, password: str) -> str:
        """A salted hash of `password`, safe to store."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` is the one `password_hash` was made from."""
        ...
