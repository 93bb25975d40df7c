"""Webhooks over HTTP against a real local receiver, with the app's own background loops
(saga, feed follower, delivery loop) running: signatures checked with `standardwebhooks`,
retries after 5xx and timeouts with one webhook-id, filters, deletion, another user's 404,
and a receiver that was down while transfers ran."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from backend.app import CONTAINER_EXTENSION
from backend.entrypoints.event_loops import start_event_loops
from backend.entrypoints.server import start_background
from tests.api.conftest import ApiUser, js, register
from tests.api.test_accounts_api import deposit, open_account, problem
from tests.live_stack import wait_for
from tests.webhook_receiver import Receiver, free_port

API = "/api/v1"
#: Fast schedules for tests: 2 s per attempt, 0.1 s between many attempts.
#: (So many attempts that none fails for good while a test waits: order per subject holds only
#: among deliveries that succeed.)
FAST = {"HEXBANK_WEBHOOK_TIMEOUT": "2", "HEXBANK_WEBHOOK_RETRY_DELAYS": ",".join(["0.1"] * 1000)}
WAIT = 60.0


@pytest.fixture
def app(make_api_app: Callable[..., Flask], make_settings: Any) -> Iterator[Flask]:
    flask_app = make_api_app(make_settings(**FAST))
    container = flask_app.extensions[CONTAINER_EXTENSION]
    messaging, events = start_background(container), start_event_loops(container)
    yield flask_app
    events.stop()
    messaging.stop()
    container.job_queue().close(wait=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def create(client: FlaskClient, user: ApiUser, url: str, *types: str, **headers: str) -> Any:
    body = {"url": url, "event_types": list(types)}
    response = client.post(f"{API}/webhooks", json=body, headers={**user.auth, **headers})
    assert response.status_code == 201, js(response)
    return js(response)


def deliveries(client: FlaskClient, user: ApiUser, hook: str, **query: str) -> list[Any]:
    response = client.get(
        f"{API}/webhooks/{hook}/deliveries", query_string=query, headers=user.auth
    )
    assert response.status_code == 200, js(response)
    items: list[Any] = js(response)["items"]
    return items


def verified(hook: Any, request: Any) -> Any:
    """The payload, once `standardwebhooks` accepted its signature."""
    return Webhook(hook["secret"]).verify(request.body, request.headers)


def test_events_arrive_signed_with_the_feeds_ids_and_data(
    app: Flask, client: FlaskClient, user: ApiUser, receiver: Receiver
) -> None:
    hook = create(client, user, receiver.url)
    account = open_account(client, user)
    deposit(client, user, account["id"], 40)

    first, second = receiver.wait_for_distinct(2, WAIT)
    payloads = [verified(hook, first), verified(hook, second)]
    assert [p["type"] for p in payloads] == ["account.opened", "account.deposited"]
    now = js(client.get(f"{API}/accounts/{account['id']}", headers=user.auth))
    assert payloads[1]["data"] == now
    wait_for(lambda: len(js(client.get(f"{API}/events", headers=user.auth))["items"]) == 2,
             WAIT, "the feed")  # fmt: skip
    items = js(client.get(f"{API}/events", headers=user.auth))["items"]
    assert [r.headers["webhook-id"] for r in (first, second)] == [i["id"] for i in items]
    assert payloads[0]["timestamp"] == items[0]["occurred_at"]
    assert first.path == "/hooks" and first.headers["content-type"] == "application/json"
    wait_for(lambda: all(d["status"] == "succeeded" for d in deliveries(client, user, hook["id"])),
             WAIT, "the deliveries to succeed")  # fmt: skip
    tampered = type(first)(first.path, first.headers, first.body.replace("opened", "closed"))
    with pytest.raises(Exception, match="signature"):
        verified(hook, tampered)


def test_5xx_and_timeouts_are_retried_with_the_same_webhook_id(
    app: Flask, client: FlaskClient, user: ApiUser, receiver: Receiver
) -> None:
    receiver.script = [500, 503, "slow"]
    hook = create(client, user, receiver.url)
    open_account(client, user)

    requests = receiver.wait_for(4, WAIT)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        verified(hook, request)

    def settled() -> bool:
        (delivery,) = deliveries(client, user, hook["id"])
        return bool(delivery["status"] == "succeeded")

    wait_for(settled, WAIT, "the delivery to succeed")
    (delivery,) = deliveries(client, user, hook["id"])
    assert delivery["attempts"] >= 4 and delivery["last_status_code"] == 200
    assert delivery["next_attempt_at"] is None


def test_a_delivery_that_failed_for_good_is_listed_and_can_be_sent_again(
    make_api_app: Callable[..., Flask], make_settings: Any, receiver: Receiver
) -> None:
    flask_app = make_api_app(make_settings(HEXBANK_WEBHOOK_RETRY_DELAYS="0.1"))
    container = flask_app.extensions[CONTAINER_EXTENSION]
    events = start_event_loops(container)
    try:
        client = flask_app.test_client()
        user = register(client)
        receiver.script = [500, 500]
        hook = create(client, user, receiver.url)
        open_account(client, user)
        wait_for(lambda: deliveries(client, user, hook["id"], status="failed") != [], WAIT,
                 "the delivery to fail")  # fmt: skip
        (failed,) = deliveries(client, user, hook["id"], status="failed")
        assert (failed["attempts"], failed["last_error"]) == (2, "HTTP 500")
        assert container.events.delivery_queue().failed_jobs()  # the job failed for good

        url = f"{API}/webhooks/{hook['id']}/deliveries/{failed['id']}/retry"
        retried = client.post(url, headers=user.auth)
        assert retried.status_code == 202 and js(retried)["status"] == "pending"
        receiver.wait_for(3, WAIT)
        wait_for(lambda: deliveries(client, user, hook["id"], status="succeeded") != [], WAIT,
                 "the retried delivery")  # fmt: skip
    finally:
        events.stop()


def test_filters_send_only_the_chosen_types(
    app: Flask, client: FlaskClient, user: ApiUser, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        create(client, user, receiver.url, "account.deposited")
        create(client, user, other.url)
        account = open_account(client, user)
        deposit(client, user, account["id"], 5)

        other.wait_for(2, WAIT)
        receiver.wait_for(1, WAIT)
        assert {json.loads(r.body)["type"] for r in receiver.received} == {"account.deposited"}
    finally:
        other.stop()


def test_a_deleted_webhook_is_gone_and_gets_nothing(
    app: Flask, client: FlaskClient, user: ApiUser, receiver: Receiver
) -> None:
    kept_receiver = Receiver()
    try:
        gone = create(client, user, receiver.url)
        create(client, user, kept_receiver.url)
        deleted = client.delete(f"{API}/webhooks/{gone['id']}", headers=user.auth)
        assert deleted.status_code == 204
        open_account(client, user)

        kept_receiver.wait_for(1, WAIT)
        assert receiver.received == []
        assert problem(client.get(f"{API}/webhooks/{gone['id']}", headers=user.auth), 404,
                       "not-found")  # fmt: skip
        listed = js(client.get(f"{API}/webhooks", headers=user.auth))["items"]
        assert [hook["url"] for hook in listed] == [kept_receiver.url]
        assert "secret" not in listed[0]
    finally:
        kept_receiver.stop()


def test_another_users_webhook_is_404_everywhere(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser, receiver: Receiver
) -> None:
    hook = create(client, user, receiver.url)
    open_account(client, user)
    receiver.wait_for(1, WAIT)
    (delivery,) = deliveries(client, user, hook["id"])
    base = f"{API}/webhooks/{hook['id']}"
    theirs = other_user.auth

    assert problem(client.get(base, headers=theirs), 404, "not-found")
    assert problem(client.get(f"{base}/deliveries", headers=theirs), 404, "not-found")
    retry = f"{base}/deliveries/{delivery['id']}/retry"
    assert problem(client.post(retry, headers=theirs), 404, "not-found")
    assert problem(client.delete(base, headers=theirs), 404, "not-found")
    assert js(client.get(f"{API}/webhooks", headers=theirs))["items"] == []
    assert client.get(base, headers=user.auth).status_code == 200
    # The same answer as for ids that never existed: no oracle.
    ghost = f"{API}/webhooks/{uuid.uuid4()}"
    for method, suffix in (("GET", ""), ("GET", "/deliveries"), ("DELETE", ""),
                           ("POST", f"/deliveries/{uuid.uuid4()}/retry")):  # fmt: skip
        mine = client.open(f"{base}{suffix}", method=method, headers=theirs).get_json()
        never = client.open(f"{ghost}{suffix}", method=method, headers=theirs).get_json()
        assert {**mine, "instance": ""} == {**never, "instance": ""}


def test_a_receiver_that_was_down_gets_every_event_once_it_is_back(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    port = free_port()
    down_url = f"http://127.0.0.1:{port}/hooks"
    hook = create(client, user, down_url)
    source = open_account(client, user)["id"]
    deposit(client, user, source, 100)
    target = open_account(client, other_user)["id"]
    for amount in (10, 20, 500, 30):
        body = {"source_account_id": source, "target_account_id": target, "amount": amount}
        assert client.post(f"{API}/transfers", json=body, headers=user.auth).status_code == 202

    def transfers_ended() -> bool:
        page = js(client.get(f"{API}/transfers", headers=user.auth))["items"]
        return len(page) == 4 and all(t["status"] != "pending" for t in page)

    wait_for(transfers_ended, WAIT, "the transfers to end")
    wait_for(lambda: any(d["attempts"] for d in deliveries(client, user, hook["id"])), WAIT,
             "a failed attempt")  # fmt: skip
    assert {d["last_error"] for d in deliveries(client, user, hook["id"]) if d["attempts"]} == {
        "connection refused"
    }

    feed = app.extensions[CONTAINER_EXTENSION].events.feed_queries()
    wait_for(lambda: feed.lag() == 0, WAIT, "the feed to catch up")
    expected = [
        i["id"] for i in js(client.get(f"{API}/events?limit=200", headers=user.auth))["items"]
    ]
    assert len(expected) == 16  # 2 + 3 holds + 3 captures; 4 requested, 3 completed, 1 failed
    back = Receiver(port)
    try:
        received = back.wait_for_ids(set(expected), WAIT)
        assert len(received) == len(expected)
        by_subject: dict[str, list[str]] = {}
        for request in received:  # first arrivals: an attempt that timed out may arrive twice
            payload = verified(hook, request)
            by_subject.setdefault(payload["data"]["id"], []).append(request.headers["webhook-id"])
        for ids in by_subject.values():  # in order per subject
            assert ids == [i for i in expected if i in ids]
    finally:
        back.stop()


def test_creating_a_webhook_validates_each_field(client: FlaskClient, user: ApiUser) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"event_types": []}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "event_types": ["account.exploded"]}, "event_types"),
        ({"url": "https://example.com/x", "secret": "mine"}, "secret"),
        ({"url": "x" * 2001}, "url"),
    ]
    for body, field in cases:
        response = client.post(f"{API}/webhooks", json=body, headers=user.auth)
        assert problem(response, 422, "validation-error")
        assert field in js(response)["errors"], body


def test_production_refuses_http_and_private_addresses_unless_allowed(
    make_api_app: Callable[..., Flask], make_settings: Any
) -> None:
    settings = make_settings(HEXBANK_ENV="production", HEXBANK_WEBHOOK_ALLOW_HOSTS="hooks.lan")
    client = make_api_app(settings).test_client()
    user = register(client)
    for url in ("http://example.com/in", "https://127.0.0.1/in", "https://10.0.0.8/in",
                "https://[::1]:8443/in", "https://localhost/in"):  # fmt: skip
        response = client.post(f"{API}/webhooks", json={"url": url}, headers=user.auth)
        assert problem(response, 422, "validation-error")
        assert "url" in js(response)["errors"], url
    create(client, user, "https://example.com/in")
    create(client, user, "http://hooks.lan:8080/in")


def test_create_is_idempotent_and_lists_page_like_every_list(
    client: FlaskClient, user: ApiUser
) -> None:
    first = create(client, user, "http://127.0.0.1:9/a", **{"Idempotency-Key": "hook-1"})
    again = client.post(
        f"{API}/webhooks",
        json={"url": "http://127.0.0.1:9/a", "event_types": []},
        headers={**user.auth, "Idempotency-Key": "hook-1"},
    )
    assert again.status_code == 201 and js(again) == first
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first["secret"].startswith("whsec_") and first["event_types"] == []
    for name in ("b", "c"):
        create(client, user, f"http://127.0.0.1:9/{name}")

    page = client.get(f"{API}/webhooks?limit=2", headers=user.auth)
    assert [h["url"][-1] for h in js(page)["items"]] == ["a", "b"]
    assert 'rel="next"' in page.headers["Link"]
    rest = js(client.get(f"{API}/webhooks?limit=2&cursor={js(page)['next_cursor']}",
                         headers=user.auth))  # fmt: skip
    assert [h["url"][-1] for h in rest["items"]] == ["c"] and rest["next_cursor"] is None
    bad = client.get(f"{API}/webhooks?cursor=bm9wZQ", headers=user.auth)
    assert "cursor" in problem(bad, 422, "validation-error")["errors"]


def test_deliveries_run_in_each_mode(
    make_api_app: Callable[..., Flask], mode_settings: Any, receiver: Receiver
) -> None:
    """Embedded: the in-process queue; distributed (PostgreSQL, Redis): rq delivery threads."""
    fast = dataclasses.replace(mode_settings, webhook_timeout=0.5, webhook_retry_delays=(0.1,) * 40)
    flask_app = make_api_app(fast)
    events = start_event_loops(flask_app.extensions[CONTAINER_EXTENSION])
    try:
        client = flask_app.test_client()
        user = register(client)
        receiver.script = [502]
        hook = create(client, user, receiver.url)
        account = open_account(client, user)
        deposit(client, user, account["id"], 3)

        opened, deposited = receiver.wait_for_distinct(2, WAIT)
        assert [verified(hook, r)["type"] for r in (opened, deposited)] == [
            "account.opened", "account.deposited",
        ]  # fmt: skip
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert ids.count(opened.headers["webhook-id"]) >= 2  # the 502, then again
    finally:
        events.stop()
