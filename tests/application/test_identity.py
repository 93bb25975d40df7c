"""Identity, login throttling and idempotency keys over the in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from backend.adapters.outbound.memory.identity_store import (
    InMemoryRefreshTokenStore,
    InMemoryTokenDenylist,
    InMemoryUserRepository,
)
from backend.adapters.outbound.memory.rate_limiter import InMemoryRateLimiter
from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.adapters.outbound.security.jwt_tokens import JwtTokenIssuer
from backend.application.identity import (
    EmailTaken,
    IdentityService,
    InvalidCredentials,
    Unauthenticated,
    hash_refresh_token,
)
from backend.application.ports.tokens import RefreshToken
from backend.application.rate_limits import LoginThrottle, RateLimited
from tests.fakes import FixedClock, SequentialIds

SECRET = "application-test-secret-key-32-bytes-long!"
PASSWORD = "correct horse battery"


class CountingHasher(Argon2PasswordHasher):
    """Cheap argon2id that counts verifications (to check the unknown-email path hashes)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(password_hash, password)


@dataclass
class Identity:
    clock: FixedClock = field(default_factory=FixedClock)
    hasher: CountingHasher = field(default_factory=CountingHasher)

    def __post_init__(self) -> None:
        self.service = IdentityService(
            users=InMemoryUserRepository(),
            refresh_tokens=InMemoryRefreshTokenStore(),
            denylist=InMemoryTokenDenylist(),
            hasher=self.hasher,
            issuer=JwtTokenIssuer(SECRET),
            clock=self.clock,
            ids=SequentialIds("idn"),
            throttle=LoginThrottle(InMemoryRateLimiter(self.clock)),
        )


@pytest.fixture
def identity() -> Identity:
    return Identity()


def test_emails_are_unique_whatever_their_case(identity: Identity) -> None:
    identity.service.register("Ann@Example.com", PASSWORD, "Ann")
    with pytest.raises(EmailTaken):
        identity.service.register(" ann@example.COM ", PASSWORD, "Other Ann")


def test_password_is_stored_as_an_argon2id_hash(identity: Identity) -> None:
    user = identity.service.register("ann@example.com", PASSWORD, "Ann")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_with_other_case_email_returns_tokens_for_the_user(identity: Identity) -> None:
    user = identity.service.register("ann@example.com", PASSWORD, "Ann")
    pair = identity.service.login("ANN@example.com", PASSWORD, "10.0.0.1")
    assert identity.service.verify_access(pair.access_token).user_id == user.id
    assert pair.expires_in == 900


def test_unknown_email_costs_a_hash_like_a_wrong_password(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    before = identity.hasher.verifications
    with pytest.raises(InvalidCredentials):
        identity.service.login("nobody@example.com", PASSWORD, "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        identity.service.login("ann@example.com", "wrong password!", "10.0.0.1")
    assert identity.hasher.verifications - before == 2


def test_five_failures_lock_the_email_until_the_window_passes(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            identity.service.login("ann@example.com", "wrong password!", "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        identity.service.login("ann@example.com", PASSWORD, "10.0.0.2")
    assert 0 < refused.value.retry_after <= 900
    identity.clock.advance(minutes=15)
    assert identity.service.login("ann@example.com", PASSWORD, "10.0.0.1").access_token


def test_successful_logins_do_not_count_towards_the_lockout(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    for _ in range(8):
        identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")


def test_one_address_is_locked_after_a_hundred_failures(identity: Identity) -> None:
    for attempt in range(100):
        with pytest.raises(InvalidCredentials):
            identity.service.login(f"user{attempt}@example.com", "wrong password!", "10.9.9.9")
    with pytest.raises(RateLimited):
        identity.service.login("fresh@example.com", "wrong password!", "10.9.9.9")


def test_refresh_rotates_and_the_old_token_stops_working(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    first = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    second = identity.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(Unauthenticated):
        identity.service.refresh(first.refresh_token)


def test_reusing_a_rotated_refresh_token_revokes_the_whole_login(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    first = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    second = identity.service.refresh(first.refresh_token)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(first.refresh_token)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(second.refresh_token)
    with pytest.raises(Unauthenticated):
        identity.service.verify_access(second.access_token)


def test_other_logins_survive_a_reuse_in_one_login(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    phone = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    laptop = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    identity.service.refresh(phone.refresh_token)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(phone.refresh_token)
    assert identity.service.verify_access(laptop.access_token)
    assert identity.service.refresh(laptop.refresh_token)


def test_logout_revokes_the_access_token_and_the_refresh_family(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    pair = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    claims = identity.service.verify_access(pair.access_token)
    identity.service.logout(claims, pair.refresh_token)
    with pytest.raises(Unauthenticated):
        identity.service.verify_access(pair.access_token)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(pair.refresh_token)


def test_access_tokens_expire(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    pair = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    identity.clock.advance(seconds=900)
    with pytest.raises(Unauthenticated):
        identity.service.verify_access(pair.access_token)


def test_expired_refresh_tokens_are_refused(identity: Identity) -> None:
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    pair = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    identity.clock.advance(days=31)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(pair.refresh_token)


def test_expired_refresh_tokens_are_purged_every_thousand_issued_pairs(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backend.application.identity.PURGE_EVERY", 3)
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    first = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    identity.clock.advance(seconds=identity.service.refresh_ttl + 1)  # the first one expired
    store = identity.service.refresh_tokens
    second = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    assert store.get(hash_refresh_token(first.refresh_token)) is not None  # two issued so far
    identity.service.refresh(second.refresh_token)  # the third issue purges
    assert store.get(hash_refresh_token(first.refresh_token)) is None
    assert store.get(hash_refresh_token(second.refresh_token)) is not None  # rotated, live


class InterruptedTokenStore(InMemoryRefreshTokenStore):
    """Runs `interruption` once, before or after the next token is stored: a logout that
    lands in the middle of a refresh, between its rotation and its new token's insert."""

    def __init__(self, after_add: bool) -> None:
        super().__init__()
        self.after_add = after_add
        self.interruption: Callable[[], None] | None = None

    def add(self, token: RefreshToken) -> None:
        interruption, self.interruption = self.interruption, None
        if interruption is not None and not self.after_add:
            interruption()
        super().add(token)
        if interruption is not None and self.after_add:
            interruption()


@pytest.mark.parametrize("after_add", [False, True], ids=["before-insert", "after-insert"])
def test_a_logout_in_the_middle_of_a_refresh_leaves_nothing_of_the_login(after_add: bool) -> None:
    identity = Identity()
    store = InterruptedTokenStore(after_add)
    identity.service.refresh_tokens = store
    identity.service.register("ann@example.com", PASSWORD, "Ann")
    pair = identity.service.login("ann@example.com", PASSWORD, "10.0.0.1")
    claims = identity.service.verify_access(pair.access_token)
    store.interruption = lambda: identity.service.logout(claims, pair.refresh_token)

    try:
        renewed = identity.service.refresh(pair.refresh_token)
    except Unauthenticated:
        return  # the logout won outright
    with pytest.raises(Unauthenticated):
        identity.service.verify_access(renewed.access_token)
    with pytest.raises(Unauthenticated):
        identity.service.refresh(renewed.refresh_token)


@pytest.mark.parametrize(
    "token", ["\ud800", "a.\udfff.b", "\x00"], ids=["surrogate", "in-part", "NUL"]
)
def test_a_token_no_encoding_can_carry_is_unauthenticated(identity: Identity, token: str) -> None:
    # The WebSocket's JSON auth message can carry a lone surrogate (HTTP headers cannot).
    with pytest.raises(Unauthenticated):
        identity.service.verify_access(token)
