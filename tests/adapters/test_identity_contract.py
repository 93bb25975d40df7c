"""One contract for every adapter of the identity, denylist, rate-limit and idempotency ports."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.idempotency_store import InMemoryIdempotencyStore
from backend.adapters.outbound.memory.identity_store import (
    InMemoryRefreshTokenStore,
    InMemoryTokenDenylist,
    InMemoryUserRepository,
)
from backend.adapters.outbound.memory.rate_limiter import InMemoryRateLimiter
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.adapters.outbound.redis.rate_limiter import RedisRateLimiter
from backend.adapters.outbound.sqlalchemy.idempotency_store import SqlAlchemyIdempotencyStore
from backend.adapters.outbound.sqlalchemy.identity_store import (
    SqlAlchemyRefreshTokenStore,
    SqlAlchemyTokenDenylist,
    SqlAlchemyUserRepository,
)
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.identity import EmailTaken
from backend.application.ports.idempotency import (
    IdempotencyRecord,
    IdempotencyStore,
    StoredResponse,
)
from backend.application.ports.rate_limits import RateLimiter
from backend.application.ports.tokens import RefreshToken, RefreshTokenStore, TokenDenylist
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.ports.users import User, UserRepository
from backend.container import build_container
from tests.conftest import SettingsFactory
from tests.fakes import FixedClock

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ALL_BACKENDS = ["memory", *SQL_BACKENDS]
NOW = FixedClock().now()


def _engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


@pytest.fixture(params=ALL_BACKENDS)
def users(request: pytest.FixtureRequest) -> UserRepository:
    if request.param == "memory":
        return InMemoryUserRepository()
    return SqlAlchemyUserRepository(_engine(request))


@pytest.fixture(params=ALL_BACKENDS)
def refresh_tokens(request: pytest.FixtureRequest) -> RefreshTokenStore:
    if request.param == "memory":
        return InMemoryRefreshTokenStore()
    return SqlAlchemyRefreshTokenStore(_engine(request))


@pytest.fixture(params=ALL_BACKENDS)
def denylist(request: pytest.FixtureRequest) -> TokenDenylist:
    if request.param == "memory":
        return InMemoryTokenDenylist()
    return SqlAlchemyTokenDenylist(_engine(request))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return InMemoryRateLimiter(FixedClock())
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"{request.getfixturevalue('redis_prefix')}:{request.node.name}:"
    return RedisRateLimiter(client, prefix=prefix)


@pytest.fixture(params=ALL_BACKENDS)
def keys(request: pytest.FixtureRequest) -> tuple[IdempotencyStore, Callable[[], UnitOfWork]]:
    if request.param == "memory":
        db = InMemoryDatabase()
        return InMemoryIdempotencyStore(db), lambda: InMemoryUnitOfWork(db)
    engine = _engine(request)
    return SqlAlchemyIdempotencyStore(engine), lambda: SqlAlchemyUnitOfWork(engine)


def _user(user_id: str, email: str) -> User:
    return User(user_id, email, "Ann", "$argon2id$hash", NOW)


def _token(token_hash: str, family: str = "fam-1") -> RefreshToken:
    return RefreshToken(token_hash, family, "user-1", NOW, NOW + timedelta(days=30))


def _record(lease: str, user: str = "user-1", key: str = "key-1") -> IdempotencyRecord:
    return IdempotencyRecord(user, key, "digest", NOW, lease, NOW + timedelta(seconds=30))


# --- users ---------------------------------------------------------------------------------------


def test_users_are_found_by_id_and_email(users: UserRepository) -> None:
    users.add(_user("user-1", "ann@example.com"))
    assert users.by_id("user-1") == _user("user-1", "ann@example.com")
    assert users.by_email("ann@example.com") == _user("user-1", "ann@example.com")
    assert users.by_email("bob@example.com") is None
    assert users.by_id("user-2") is None


def test_a_second_user_with_the_same_email_is_refused(users: UserRepository) -> None:
    users.add(_user("user-1", "ann@example.com"))
    with pytest.raises(EmailTaken):
        users.add(_user("user-2", "ann@example.com"))
    assert users.by_id("user-2") is None


# --- refresh tokens ------------------------------------------------------------------------------


def test_a_refresh_token_rotates_once(refresh_tokens: RefreshTokenStore) -> None:
    refresh_tokens.add(_token("hash-1"))
    assert refresh_tokens.get("hash-1") == _token("hash-1")
    assert refresh_tokens.mark_rotated("hash-1", NOW)
    assert not refresh_tokens.mark_rotated("hash-1", NOW)
    rotated = refresh_tokens.get("hash-1")
    assert rotated is not None and rotated.rotated_at == NOW


def test_concurrent_rotations_of_one_token_have_one_winner(
    refresh_tokens: RefreshTokenStore,
) -> None:
    refresh_tokens.add(_token("hash-1"))
    start, wins = threading.Barrier(6), []

    def rotate() -> None:
        start.wait()
        wins.append(refresh_tokens.mark_rotated("hash-1", NOW))

    threads = [threading.Thread(target=rotate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(wins) == [False] * 5 + [True]


def test_revoking_a_family_revokes_only_its_tokens(refresh_tokens: RefreshTokenStore) -> None:
    refresh_tokens.add(_token("hash-1", "fam-1"))
    refresh_tokens.add(_token("hash-2", "fam-1"))
    refresh_tokens.add(_token("hash-3", "fam-2"))
    refresh_tokens.revoke_family("fam-1")
    revoked = [
        getattr(refresh_tokens.get(h), "revoked", None) for h in ("hash-1", "hash-2", "hash-3")
    ]
    assert revoked == [True, True, False]
    assert not refresh_tokens.mark_rotated("hash-2", NOW)
    assert refresh_tokens.get("unknown") is None


def test_purging_forgets_only_tokens_expired_by_then(refresh_tokens: RefreshTokenStore) -> None:
    old = RefreshToken("hash-old", "fam-1", "user-1", NOW - timedelta(days=31), NOW)
    live = _token("hash-live")
    refresh_tokens.add(old)
    refresh_tokens.add(live)
    assert refresh_tokens.mark_rotated("hash-live", NOW)  # used, but still reuse-detectable
    refresh_tokens.purge(NOW)
    assert refresh_tokens.get("hash-old") is None
    kept = refresh_tokens.get("hash-live")
    assert kept is not None and kept.rotated_at == NOW


# --- denylist ------------------------------------------------------------------------------------


def test_a_revoked_id_is_denied_until_it_expires(denylist: TokenDenylist) -> None:
    until = NOW + timedelta(minutes=15)
    denylist.revoke("jti-1", until, NOW)
    assert denylist.any_revoked(["other", "jti-1"], NOW)
    assert not denylist.any_revoked(["other"], NOW)
    assert not denylist.any_revoked([], NOW)


def test_revoking_twice_keeps_the_id_denied(denylist: TokenDenylist) -> None:
    denylist.revoke("jti-1", NOW + timedelta(minutes=15), NOW)
    denylist.revoke("jti-1", NOW + timedelta(minutes=15), NOW)
    assert denylist.any_revoked(["jti-1"], NOW)


@pytest.mark.parametrize("denylist", ALL_BACKENDS, indirect=True)
def test_expired_entries_no_longer_deny(denylist: TokenDenylist) -> None:
    # Redis expires keys in real time, so only the clock-driven adapters are checked here.
    denylist.revoke("jti-1", NOW + timedelta(minutes=15), NOW)
    assert not denylist.any_revoked(["jti-1"], NOW + timedelta(minutes=16))


# --- rate limiter --------------------------------------------------------------------------------


def test_a_budget_allows_its_limit_then_refuses_with_retry_after(limiter: RateLimiter) -> None:
    decisions = [limiter.hit("k", 3, 900) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after <= 900
    assert not limiter.peek("k", 3, 900).allowed
    assert limiter.peek("other", 3, 900).allowed


def test_peeking_does_not_count(limiter: RateLimiter) -> None:
    for _ in range(5):
        assert limiter.peek("k", 1, 60).allowed
    assert limiter.hit("k", 1, 60).allowed


def test_the_memory_window_reopens_when_it_passes() -> None:
    clock = FixedClock()
    limiter = InMemoryRateLimiter(clock)
    limiter.hit("k", 1, 60)
    assert not limiter.hit("k", 1, 60).allowed
    clock.advance(seconds=60)
    assert limiter.hit("k", 1, 60).allowed


# --- idempotency keys ----------------------------------------------------------------------------

Keys = tuple[IdempotencyStore, Callable[[], UnitOfWork]]


def _complete(keys: Keys, record: IdempotencyRecord, response: StoredResponse) -> None:
    _, uow_factory = keys
    with uow_factory() as uow:
        uow.idempotency_keys.complete(record, response)
        uow.commit()


def test_a_claimed_key_is_held_until_completed_then_replays(keys: Keys) -> None:
    store, _ = keys
    assert store.claim(_record("lease-1")) is None
    held = store.claim(_record("lease-2"))
    assert held is not None and held.lease_token == "lease-1" and held.response is None
    response = StoredResponse(201, {"id": "t-1", "nested": {"n": [1, None]}}, {"Location": "/x"})
    _complete(keys, _record("lease-1"), response)
    done = store.claim(_record("lease-3"))
    assert done is not None and done.response == response


def test_a_response_rolled_back_with_its_command_is_not_kept(keys: Keys) -> None:
    store, uow_factory = keys
    store.claim(_record("lease-1"))
    with uow_factory() as uow:
        uow.idempotency_keys.complete(_record("lease-1"), StoredResponse(201, {"id": "t-1"}))
        uow.rollback()
    held = store.claim(_record("lease-2"))
    assert held is not None and held.response is None


def test_a_taken_over_claim_cannot_complete(keys: Keys) -> None:
    store, _ = keys
    store.claim(_record("lease-1"))
    assert store.take_over(_record("lease-1"), _record("lease-2"))
    assert not store.take_over(_record("lease-1"), _record("lease-3"))
    with pytest.raises(IdempotencyKeyInUse):
        _complete(keys, _record("lease-1"), StoredResponse(201, {}))
    _complete(keys, _record("lease-2"), StoredResponse(201, {"id": "t-2"}))


def test_released_claims_free_the_key_but_completed_ones_stay(keys: Keys) -> None:
    store, _ = keys
    store.claim(_record("lease-1"))
    store.release(_record("lease-1"))
    assert store.claim(_record("lease-2")) is None
    _complete(keys, _record("lease-2"), StoredResponse(201, {}))
    store.release(_record("lease-2"))
    assert store.claim(_record("lease-3")) is not None


def test_keys_are_per_user(keys: Keys) -> None:
    store, _ = keys
    assert store.claim(_record("lease-1", user="user-1")) is None
    assert store.claim(_record("lease-2", user="user-2")) is None


# --- composition -----------------------------------------------------------------------------


def test_revocations_are_durable_in_sql_and_distributed_counters_are_in_redis(
    make_settings: SettingsFactory,
) -> None:
    # Building the adapters opens no connection, so no Redis server is needed here.
    distributed = build_container(make_settings(HEXBANK_REDIS_URL="redis://127.0.0.1:1/0"))
    # Redis may restart empty: a revoked token must never pass again, so SQL holds revocations.
    assert isinstance(distributed.token_denylist(), SqlAlchemyTokenDenylist)
    assert isinstance(distributed.rate_limiter(), RedisRateLimiter)
    embedded = build_container(make_settings())
    assert isinstance(embedded.token_denylist(), SqlAlchemyTokenDenylist)
    assert isinstance(embedded.rate_limiter(), InMemoryRateLimiter)
    assert embedded.request_throttle() is None
    for container in (distributed, embedded):
        container.engine().dispose()


def test_purging_forgets_only_keys_created_before_the_cutoff(keys: Keys) -> None:
    store, _ = keys
    store.claim(_record("lease-1", key="old"))
    store.claim(replace(_record("lease-2", key="new"), created_at=NOW + timedelta(hours=1)))
    store.purge(NOW + timedelta(minutes=30))
    assert store.claim(_record("lease-3", key="old")) is None
    assert store.claim(_record("lease-4", key="new")) is not None
