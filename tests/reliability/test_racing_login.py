"""R20: racing the same login, in both modes (SQLite and PostgreSQL).

Ten concurrent refreshes of one refresh token: exactly one wins, the others are 401, and, a
rotated token having been presented again, the login is revoked (the winner's pair too).
A logout racing a refresh: never a 5xx, and once both have answered nothing of that login
works any more, whichever won.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from tests.api.conftest import ApiUser, register
from tests.reliability.apps import API
from tests.reliability.stacks import scaled

RACERS = 10


def race(app: Flask, requests: list[Callable[[Any], Any]]) -> list[Any]:
    """Send the requests at once (each on its own client, released by one barrier)."""
    barrier = threading.Barrier(len(requests))

    def send(request: Callable[[Any], Any]) -> Any:
        client = app.test_client()
        barrier.wait(timeout=30)
        return request(client)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def refresh(token: str) -> Callable[[Any], Any]:
    return lambda client: client.post(f"{API}/auth/refresh", json={"refresh_token": token})


def logout(user: ApiUser) -> Callable[[Any], Any]:
    body = {"refresh_token": user.refresh_token}
    return lambda client: client.post(f"{API}/auth/logout", json=body, headers=user.auth)


def assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"


def test_ten_racing_refreshes_of_one_token_one_wins(any_mode_app: Flask) -> None:
    client = any_mode_app.test_client()
    for _ in range(scaled(3, per_soak_minute=60)):
        user = register(client)

        responses = race(any_mode_app, [refresh(user.refresh_token)] * RACERS)

        assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
        winners = [r for r in responses if r.status_code == 200]
        assert len(winners) == 1, [r.status_code for r in responses]
        for loser in (r for r in responses if r.status_code != 200):
            assert_problem(loser, 401)
        # The losers presented a rotated token: the whole login is revoked (API.md), the
        # winner's new pair included, whichever order the revocations landed in.
        pair = winners[0].get_json()
        assert_problem(refresh(pair["refresh_token"])(client), 401)
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        assert_problem(client.get(f"{API}/users/me", headers=bearer), 401)


def test_a_logout_racing_a_refresh_leaves_nothing_of_the_login_alive(any_mode_app: Flask) -> None:
    client = any_mode_app.test_client()
    for _ in range(scaled(5, per_soak_minute=100)):
        user = register(client)

        out, renewed = race(any_mode_app, [logout(user), refresh(user.refresh_token)])

        assert out.status_code == 204, out.get_data(as_text=True)[:300]
        assert renewed.status_code in (200, 401), renewed.get_data(as_text=True)[:300]
        assert_problem(client.get(f"{API}/users/me", headers=user.auth), 401)
        if renewed.status_code == 200:  # the refresh won: what it handed out is dead too
            pair = renewed.get_json()
            bearer = {"Authorization": f"Bearer {pair['access_token']}"}
            assert_problem(client.get(f"{API}/users/me", headers=bearer), 401)
            assert_problem(refresh(pair["refresh_token"])(client), 401)
