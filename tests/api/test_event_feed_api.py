"""GET /api/v1/events: the caller's public events in commit order, with the subject as GET
returned it; pages that neither skip nor repeat; a cursor that never runs out; and the
privacy rule for transfers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.app import CONTAINER_EXTENSION
from tests.api.conftest import ApiUser, js, register
from tests.api.test_accounts_api import deposit, open_account, problem
from tests.api.test_transfers_api import funded, send, settle

API = "/api/v1"


@pytest.fixture
def app(make_api_app: Any) -> Flask:
    flask_app: Flask = make_api_app()
    return flask_app


def follow(app: Flask) -> None:
    """Run the saga and the feed follower until both are caught up."""
    settle(app)
    app.extensions[CONTAINER_EXTENSION].events.follower().catch_up()


def feed(client: FlaskClient, user: ApiUser, after: str | None = None, limit: int = 50) -> Any:
    query = {"limit": limit} | ({"after": after} if after else {})
    response = client.get(f"{API}/events", query_string=query, headers=user.auth)
    assert response.status_code == 200, js(response)
    return js(response)


def everything(client: FlaskClient, user: ApiUser, limit: int = 3) -> tuple[list[Any], str]:
    items: list[Any] = []
    page = feed(client, user, limit=limit)
    while page["items"]:
        items += page["items"]
        page = feed(client, user, page["next_cursor"], limit)
    return items, page["next_cursor"]


def test_the_feed_shows_each_event_with_the_account_as_get_returned_it(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    seen = [account]
    for amount in (30, 12):
        assert deposit(client, user, account["id"], amount).status_code == 201
        seen.append(js(client.get(f"{API}/accounts/{account['id']}", headers=user.auth)))
    withdrawn = client.post(
        f"{API}/accounts/{account['id']}/withdrawals", json={"amount": 2}, headers=user.auth
    )
    assert withdrawn.status_code == 201
    seen.append(js(client.get(f"{API}/accounts/{account['id']}", headers=user.auth)))
    follow(app)

    items = feed(client, user)["items"]
    assert [i["type"] for i in items] == [
        "account.opened", "account.deposited", "account.deposited", "account.withdrawn",
    ]  # fmt: skip
    assert [i["data"] for i in items] == seen
    assert {(i["subject_type"], i["subject_id"]) for i in items} == {("account", account["id"])}
    assert len({i["id"] for i in items}) == 4
    assert all(i["occurred_at"].endswith("Z") for i in items)


def test_pages_neither_skip_nor_repeat_and_the_cursor_is_stable_at_the_end(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    for _ in range(4):
        funded(client, user, 5)
    follow(app)

    items, end = everything(client, user, limit=3)
    whole = feed(client, user, limit=200)["items"]
    assert items == whole and len(items) == 8
    again = feed(client, user, end)
    assert again == {"items": [], "next_cursor": end}
    assert feed(client, user, end)["next_cursor"] == end

    funded(client, user, 1)
    follow(app)
    fresh = feed(client, user, end)
    assert [i["type"] for i in fresh["items"]] == ["account.opened", "account.deposited"]
    assert fresh["next_cursor"] != end
    assert [i["id"] for i in whole] == [i["id"] for i in everything(client, user)[0][:8]]


def test_a_payee_sees_a_transfer_once_completed_and_never_a_failed_one(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    source = funded(client, user, 50)
    target = open_account(client, other_user)["id"]
    done = send(client, user, {"source_account_id": source, "target_account_id": target,
                               "amount": 20})  # fmt: skip
    failed = send(client, user, {"source_account_id": source, "target_account_id": target,
                                 "amount": 999})  # fmt: skip
    follow(app)

    payer = feed(client, user, limit=200)["items"]
    payee = feed(client, other_user, limit=200)["items"]
    assert of(payer, done.get_json()["id"]) == ["transfer.requested", "transfer.completed"]
    assert of(payer, failed.get_json()["id"]) == ["transfer.requested", "transfer.failed"]
    assert of(payee, done.get_json()["id"]) == ["transfer.completed"]
    assert of(payee, failed.get_json()["id"]) == []
    assert [i["type"] for i in payee] == ["account.opened", "account.updated", "transfer.completed"]
    final = js(client.get(f"{API}/transfers/{done.get_json()['id']}", headers=other_user.auth))
    assert payee[-1]["data"] == final
    credited = js(client.get(f"{API}/accounts/{target}", headers=other_user.auth))
    assert payee[1]["data"] == credited
    positions = [i["id"] for i in payer]
    assert len(positions) == len(set(positions))


def of(items: list[Any], subject_id: str) -> list[str]:
    return [i["type"] for i in items if i["subject_id"] == subject_id]


def test_nobody_sees_another_users_events(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    funded(client, user, 5)
    follow(app)

    assert feed(client, other_user)["items"] == []
    stranger = register(client)
    assert feed(client, stranger)["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"after": "nope"}, "after"), ({"after": "eyJrIjoieCIsInYiOjF9"}, "after"),
     ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"since": "1"}, "since")],
)  # fmt: skip
def test_a_bad_cursor_or_limit_is_422_naming_it(
    client: FlaskClient, user: ApiUser, query: dict[str, str], field: str
) -> None:
    response = client.get(f"{API}/events", query_string=query, headers=user.auth)
    assert problem(response, 422, "validation-error")
    assert field in js(response)["errors"]


def test_the_feed_needs_a_token(client: FlaskClient) -> None:
    assert client.get(f"{API}/events").status_code == 401


def test_the_document_describes_the_feed_and_the_webhook_payloads(client: FlaskClient) -> None:
    spec = js(client.get(f"{API}/openapi.json"))
    schemas = spec["components"]["schemas"]

    assert set(spec["webhooks"]) == {"accountEvent", "transferEvent", "batchEvent"}
    post = spec["webhooks"]["transferEvent"]["post"]
    assert {p["name"] for p in post["parameters"]} == {
        "webhook-id", "webhook-timestamp", "webhook-signature",
    }  # fmt: skip
    payload = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert payload.endswith("/TransferWebhookPayload")
    items = schemas["FeedPage"]["properties"]["items"]["items"]["oneOf"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in items} == {
        "AccountEvent", "TransferEvent", "BatchEvent",
    }  # fmt: skip
    # `data` is the resource as GET shows it: the contract's subjects keep the API's fields.
    for subject in ("Account", "Transfer"):
        data = schemas[f"{subject}Event"]["properties"]["data"]
        assert set(data["properties"]) == set(schemas[subject]["properties"]), subject
