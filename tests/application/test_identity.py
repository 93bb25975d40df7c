"""Identity, login throttling and idempotency keys over the in-memory adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.idempotency_store import InMemoryIdempotencyStore
from backend.adapters.outbound.memory.identity_store import (
    InMemoryRefreshTokenStore,
    InMemoryTokenDenylist,
    InMemoryUserRepository,
)
from backend.adapters.outbound.memory.rate_limiter import InMemoryRateLimiter
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.adapters.outbound.security.jwt_tokens import JwtTokenIssuer
from backend.application.idempotency import (
    Claim,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdempotencyService,
)
from backend.application.identity import (
    EmailTaken,
    IdentityService,
    InvalidCredentials,
    Unauthenticated,
    hash_refresh_token,
)
from backend.application.ports.idempotency import StoredResponse
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


# --- idempotency ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """An idempotency service over an in-memory database, and its clock."""

    service: IdempotencyService
    clock: FixedClock
    db: InMemoryDatabase


@pytest.fixture
def keys() -> Keys:
    clock, db = FixedClock(), InMemoryDatabase()
    service = IdempotencyService(InMemoryIdempotencyStore(db), clock, SequentialIds("lease"))
    return Keys(service, clock, db)


def _finish(keys: Keys, claim: Claim, body: dict[str, object]) -> None:
    with InMemoryUnitOfWork(keys.db) as uow:
        keys.service.complete(uow, claim, StoredResponse(201, body))
        uow.commit()


def test_a_completed_key_replays_its_response(keys: Keys) -> None:
    service = keys.service
    claim = service.begin("u1", "k1", "digest")
    assert isinstance(claim, Claim)
    _finish(keys, claim, {"id": "t1"})
    assert service.begin("u1", "k1", "digest") == StoredResponse(201, {"id": "t1"})


def test_the_same_key_with_another_request_is_refused(
    keys: Keys,
) -> None:
    service = keys.service
    claim = service.begin("u1", "k1", "digest")
    assert isinstance(claim, Claim)
    _finish(keys, claim, {"id": "t1"})
    with pytest.raises(IdempotencyKeyReused):
        service.begin("u1", "k1", "another digest")


def test_keys_are_scoped_per_user(keys: Keys) -> None:
    service = keys.service
    assert isinstance(service.begin("u1", "k1", "digest"), Claim)
    assert isinstance(service.begin("u2", "k1", "digest"), Claim)


def test_a_running_key_is_in_use_until_its_lease_runs_out(
    keys: Keys,
) -> None:
    service, clock = keys.service, keys.clock
    stale = service.begin("u1", "k1", "digest")
    assert isinstance(stale, Claim)
    with pytest.raises(IdempotencyKeyInUse):
        service.begin("u1", "k1", "digest")
    clock.advance(seconds=31)
    assert isinstance(service.begin("u1", "k1", "digest"), Claim)
    with pytest.raises(IdempotencyKeyInUse):  # the crashed request may not finish any more
        _finish(keys, stale, {"id": "late"})


def test_a_released_key_can_be_used_again(keys: Keys) -> None:
    service = keys.service
    claim = service.begin("u1", "k1", "digest")
    assert isinstance(claim, Claim)
    service.release(claim)
    assert isinstance(service.begin("u1", "k1", "other digest"), Claim)


def test_keys_expire_after_a_day(keys: Keys) -> None:
    service, clock = keys.service, keys.clock
    claim = service.begin("u1", "k1", "digest")
    assert isinstance(claim, Claim)
    _finish(keys, claim, {"id": "t1"})
    clock.advance(hours=24)
    assert isinstance(service.begin("u1", "k1", "another digest"), Claim)


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
