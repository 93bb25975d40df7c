"""What the /api/v1 views need, as zero-argument callables (container providers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.application.admission import TransferAdmission
from backend.application.command_bus import CommandBus
from backend.application.event_feed import FeedQueries
from backend.application.identity import IdentityService
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.tokens import TokenIssuer
from backend.application.rate_limits import RequestThrottle
from backend.application.webhooks import UrlPolicy, WebhookQueries
from backend.config import Settings


@dataclass(frozen=True)
class EventServices:
    """What the feed and webhook views need."""

    feed: Callable[[], FeedQueries]
    webhooks: Callable[[], WebhookQueries]
    url_policy: Callable[[], UrlPolicy]
    #: Ends the delivery loop's idle wait (a delivery to retry now); a no-op elsewhere.
    wake_deliveries: Callable[[], None]


@dataclass(frozen=True)
class ApiServices:
    """Resolved per request, so that container overrides made in tests take effect."""

    settings: Settings
    identity: Callable[[], IdentityService]
    bus: Callable[[], CommandBus]
    #: backend.application.queries.AccountQueries
    account_queries: Callable[[], Any]
    request_throttle: Callable[[], RequestThrottle | None]
    token_issuer: Callable[[], TokenIssuer]
    clock: Callable[[], Clock]
    #: backend.application.queries.TransferQueries
    transfer_queries: Callable[[], Any] | None = None
    #: Refuses new transfers the backlog would not finish in time (None: admit all).
    transfer_admission: Callable[[], TransferAdmission] | None = None
    #: The event feed and webhooks (None: their routes answer 404).
    events: EventServices | None = None
