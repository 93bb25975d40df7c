"""Providers of the public event feed and the webhooks (a sub-container of the container)."""

from __future__ import annotations

from typing import Any

import redis
from dependency_injector import containers, providers

from backend.adapters.outbound.sqlalchemy.engine import deferred
from backend.adapters.outbound.sqlalchemy.event_feed_reader import SqlAlchemyEventFeedReader
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.webhooks.http_transport import HttpWebhookTransport
from backend.adapters.outbound.webhooks.queues import (
    DEFAULT_QUEUE_NAME,
    InProcessDeliveryQueue,
    RqDeliveryQueue,
)
from backend.application.event_codec import default_codec
from backend.application.event_feed import FeedFollower, FeedQueries
from backend.application.ports.webhook_transport import DeliveryQueue
from backend.application.public_events import PublicEventMapper
from backend.application.relay import Wakeup
from backend.application.webhook_delivery import RetrySchedule, WebhookSender
from backend.application.webhooks import UrlPolicy, WebhookQueries
from backend.config import Settings


def _url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(settings.env == "production", settings.webhook_allow_hosts)


def _delivery_queue(
    settings: Settings, client: redis.Redis | None, sender: WebhookSender
) -> DeliveryQueue:
    """Embedded: a thread pool of this process; distributed: an rq queue of its own."""
    if settings.embedded or client is None:
        return InProcessDeliveryQueue(sender.send)
    timeout = int(settings.webhook_timeout) + 30
    return RqDeliveryQueue(client, settings.redis_prefix + DEFAULT_QUEUE_NAME, timeout)


class EventsContainer(containers.DeclarativeContainer):
    """The feed follower, the webhook sender and queue, and the queries the API reads."""

    settings = providers.Dependency(instance_of=Settings)
    engine: providers.Dependency[Any] = providers.Dependency()
    uow_factory: providers.Dependency[Any] = providers.Dependency()
    clock: providers.Dependency[Any] = providers.Dependency()
    ids: providers.Dependency[Any] = providers.Dependency()
    redis_client: providers.Dependency[Any] = providers.Dependency()

    reader = providers.ThreadSafeSingleton(SqlAlchemyEventFeedReader, engine=engine)
    feed_queries = providers.ThreadSafeSingleton(FeedQueries, reader=reader)
    webhook_queries = providers.ThreadSafeSingleton(WebhookQueries, reader=reader)
    url_policy = providers.ThreadSafeSingleton(_url_policy, settings=settings)
    #: Wakes this process's delivery loop when its follower made deliveries.
    delivery_wakeup = providers.ThreadSafeSingleton(Wakeup)
    follower = providers.ThreadSafeSingleton(
        FeedFollower,
        uow_factory=uow_factory,
        mapper=providers.Factory(PublicEventMapper, codec=providers.Callable(default_codec)),
        clock=clock,
        ids=ids,
        reader=reader,
        on_deliveries=providers.Callable(lambda wakeup: (wakeup.wake,), delivery_wakeup),
    )
    sender = providers.ThreadSafeSingleton(
        WebhookSender,
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        transport=providers.Factory(HttpWebhookTransport, policy=url_policy),
        schedule=providers.Factory(RetrySchedule, delays=settings.provided.webhook_retry_delays),
        timeout=settings.provided.webhook_timeout,
        after_attempt=providers.Callable(lambda wakeup: (wakeup.wake,), delivery_wakeup),
        read_uow_factory=providers.Factory(
            SqlAlchemyUnitOfWork, engine=providers.ThreadSafeSingleton(deferred, engine)
        ).provider,
    )
    delivery_queue = providers.ThreadSafeSingleton(
        _delivery_queue, settings=settings, client=redis_client, sender=sender
    )
