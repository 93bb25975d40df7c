"""/api/v1/events (the caller's public event feed) and /api/v1/webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from backend.adapters.inbound.http.account_views import metadata, page_response
from backend.adapters.inbound.http.api_services import ApiServices, EventServices
from backend.adapters.inbound.http.auth import current_user_id, requires_auth
from backend.adapters.inbound.http.event_schemas import (
    CreatedWebhookSchema,
    CreateWebhookSchema,
    DeliveryPageSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    FeedPageSchema,
    FeedQuerySchema,
    WebhookPageSchema,
    WebhookSchema,
)
from backend.adapters.inbound.http.idempotency import idempotency_key, marked, request_key
from backend.adapters.inbound.http.json_body import json_object_body
from backend.adapters.inbound.http.problems import ProblemError
from backend.adapters.inbound.http.schemas import PageQuerySchema, load, load_query, shared
from backend.application.commands import CreateWebhook, DeleteWebhook, RetryDelivery
from backend.application.event_feed import InvalidAfter
from backend.application.pagination import Page
from backend.application.ports.event_feed import PENDING, Delivery
from backend.application.webhooks import InvalidWebhookUrl


def event_blueprint(services: ApiServices) -> Blueprint:
    """The feed and webhook routes; each user sees only their own (anyone else's: 404)."""
    blueprint = Blueprint("events", __name__)
    if services.events is None:
        return blueprint
    authenticated = requires_auth(services.identity)
    views = EventViews(services, services.events)
    routes: list[tuple[str, str, Callable[..., Response]]] = [
        ("/events", "GET", views.feed),
        ("/webhooks", "POST", views.create_webhook),
        ("/webhooks", "GET", views.list_webhooks),
        ("/webhooks/<webhook_id>", "GET", views.get_webhook),
        ("/webhooks/<webhook_id>", "DELETE", views.delete_webhook),
        ("/webhooks/<webhook_id>/deliveries", "GET", views.deliveries),
        ("/webhooks/<webhook_id>/deliveries/<delivery_id>/retry", "POST", views.retry),
    ]
    for rule, method, view in routes:
        blueprint.add_url_rule(rule, view.__name__, authenticated(view), methods=[method])
    return blueprint


class EventViews:
    """Validate, run webhook commands on the bus, read through the feed's queries."""

    def __init__(self, services: ApiServices, events: EventServices) -> None:
        self.services, self.events = services, events

    def feed(self) -> Response:
        query = load_query(shared(FeedQuerySchema))
        try:
            page = self.events.feed().page(current_user_id(), query.get("after"), query["limit"])
        except InvalidAfter:
            raise _field_error("after", "Not a cursor of this feed.") from None
        return jsonify(shared(FeedPageSchema).dump(page))

    def create_webhook(self) -> Response:
        key = idempotency_key()
        body = json_object_body()
        data = load(shared(CreateWebhookSchema), body)
        try:
            self.events.url_policy().check(data["url"])
        except InvalidWebhookUrl as refused:
            raise _field_error("url", str(refused)) from None
        user_id = current_user_id()
        types = tuple(dict.fromkeys(data["event_types"]))
        command = CreateWebhook(user_id, data["url"], types)
        outcome = self.services.bus().execute_once(
            command, metadata(), request_key(key, user_id, body)
        )
        response = jsonify(shared(CreatedWebhookSchema).dump(_webhook(outcome.result)))
        response.status_code = 201
        where = f"{request.script_root}/api/v1/webhooks/{outcome.result.id}"
        response.headers["Location"] = where
        return marked(response, outcome)

    def list_webhooks(self) -> Response:
        query = load_query(shared(PageQuerySchema))
        page = self.events.webhooks().webhooks(
            current_user_id(), query["limit"], query.get("cursor")
        )
        listed = Page([_webhook(hook) for hook in page.items], page.next_cursor)
        return page_response(shared(WebhookPageSchema), listed, query["limit"])

    def get_webhook(self, webhook_id: str) -> Response:
        webhook = self.events.webhooks().webhook(current_user_id(), webhook_id)
        return jsonify(shared(WebhookSchema).dump(_webhook(webhook)))

    def delete_webhook(self, webhook_id: str) -> Response:
        self.services.bus().execute(DeleteWebhook(current_user_id(), webhook_id), metadata())
        return Response(status=204)

    def deliveries(self, webhook_id: str) -> Response:
        query = load_query(shared(DeliveryQuerySchema))
        page = self.events.webhooks().deliveries(
            current_user_id(), webhook_id, query.get("status"), query["limit"], query.get("cursor")
        )
        listed = Page([_delivery(item) for item in page.items], page.next_cursor)
        return page_response(shared(DeliveryPageSchema), listed, query["limit"])

    def retry(self, webhook_id: str, delivery_id: str) -> Response:
        command = RetryDelivery(current_user_id(), webhook_id, delivery_id)
        delivery = self.services.bus().execute(command, metadata())
        self.events.wake_deliveries()
        response = jsonify(shared(DeliverySchema).dump(_delivery(delivery)))
        response.status_code = 202
        return response


def _webhook(webhook: Any) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "created_at": webhook.created_at,
        "secret": webhook.secret,
    }


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == PENDING else None,
        "updated_at": delivery.updated_at,
    }


def _field_error(name: str, message: str) -> ProblemError:
    return ProblemError("validation-error", message, errors={name: [message]})
