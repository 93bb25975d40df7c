"""Webhooks: the commands that manage them, the URL rule, and the queries the API lists.

A webhook receives the public events (`public_events`) of its owner committed after it was
created; the feed follower turns each into a delivery row, and `webhook_delivery` sends them.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit

from backend.application.command_bus import CommandContext
from backend.application.commands import CreateWebhook, DeleteWebhook, RetryDelivery
from backend.application.errors import ApplicationError, NotFound
from backend.application.pagination import DEFAULT_LIMIT, Page, decode_cursor, page_of
from backend.application.ports.event_feed import PENDING, Delivery, EventFeedReader, Webhook

MAX_URL_LENGTH: Final = 2000
DELIVERY_CURSOR: Final = "deliveries"
WEBHOOK_CURSOR: Final = "webhooks"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


class InvalidWebhookUrl(ApplicationError):
    """A webhook URL this deployment refuses to call (the message says why)."""


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def create_webhook(command: CreateWebhook, ctx: CommandContext) -> Webhook:
    """A webhook for the events committed from now on (the log's head as it stands)."""
    webhook = Webhook(
        ctx.ids.new_id(), command.owner_id, command.url, command.event_types, new_secret(),
        ctx.clock.now(), ctx.uow.events.head_position(),
    )  # fmt: skip
    ctx.uow.feed.add_webhook(webhook)
    return webhook


def delete_webhook(command: DeleteWebhook, ctx: CommandContext) -> None:
    if ctx.uow.feed.webhook(command.owner_id, command.webhook_id) is None:
        raise NotFound("no such webhook")
    ctx.uow.feed.delete_webhook(command.webhook_id)


def retry_delivery(command: RetryDelivery, ctx: CommandContext) -> Delivery:
    """Send the delivery again now, whatever its status; the endpoint's backoff is lifted."""
    feed = ctx.uow.feed
    webhook = feed.webhook(command.owner_id, command.webhook_id)
    delivery = feed.delivery(command.delivery_id)
    if webhook is None or delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("no such delivery")
    now = ctx.clock.now()
    again = replace(delivery, status=PENDING, next_attempt_at=now, updated_at=now, lease=None)
    feed.save_delivery(again)
    feed.save_webhook_health(webhook.id, webhook.failures, None)
    return again


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Which URLs a webhook may call: in production only https on public addresses, unless
    the host is in `allow_hosts` (so production cannot be made to scan its own network)."""

    production: bool
    allow_hosts: Collection[str] = ()

    def check(self, url: str) -> None:
        """InvalidWebhookUrl unless `url` is one this deployment may call (the host's
        addresses are checked again when sending: `check_addresses`)."""
        if len(url) > MAX_URL_LENGTH:
            raise InvalidWebhookUrl(f"Must be at most {MAX_URL_LENGTH} characters.")
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            raise InvalidWebhookUrl("Not a valid URL.") from None
        if parts.scheme not in ("http", "https") or not host:
            raise InvalidWebhookUrl("Must be an absolute http(s) URL.")
        if parts.username is not None or parts.password is not None:
            raise InvalidWebhookUrl("Must not carry credentials.")
        if not self.production or self.allowed(host):
            return
        if parts.scheme != "https":
            raise InvalidWebhookUrl("Must use https.")
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise InvalidWebhookUrl("Must not point at this host or a private network.")
        self.check_addresses(host, _literal(host))

    def allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in {h.lower() for h in self.allow_hosts}

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        """InvalidWebhookUrl when `host` resolved to an address production must not call."""
        if not self.production or self.allowed(host):
            return
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise InvalidWebhookUrl("Must not point at this host or a private network.")


def _literal(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return []


@dataclass
class WebhookQueries:
    """The caller's webhooks and their deliveries; another user's are NotFound."""

    reader: EventFeedReader

    def webhook(self, user_id: str, webhook_id: str) -> Webhook:
        found = self.reader.webhook(user_id, webhook_id)
        if found is None:
            raise NotFound("no such webhook")
        return found

    def webhooks(
        self, user_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Webhook]:
        after = decode_cursor(cursor, WEBHOOK_CURSOR)
        rows = self.reader.webhooks(user_id, after, limit + 1)
        keyed, next_cursor = page_of(rows, limit, WEBHOOK_CURSOR, lambda row: row[0])
        return Page([webhook for _, webhook in keyed], next_cursor)

    def deliveries(
        self,
        user_id: str,
        webhook_id: str,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Delivery]:
        self.webhook(user_id, webhook_id)
        after = decode_cursor(cursor, DELIVERY_CURSOR)
        rows = self.reader.deliveries(webhook_id, status, after, limit + 1)
        keyed, next_cursor = page_of(rows, limit, DELIVERY_CURSOR, lambda row: row[0])
        return Page([delivery for _, delivery in keyed], next_cursor)
