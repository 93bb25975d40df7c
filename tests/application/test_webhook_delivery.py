"""Webhook deliveries over in-memory adapters: which events make deliveries, the retry and
endpoint backoff schedules, order per subject, and the URL rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from backend.application.commands import CreateWebhook, DeleteWebhook, RetryDelivery
from backend.application.event_codec import default_codec
from backend.application.event_feed import FeedFollower
from backend.application.ports.event_feed import FAILED, PENDING, SUCCEEDED, Delivery, Webhook
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.webhook_transport import SendResult
from backend.application.public_events import PublicEventMapper
from backend.application.webhook_delivery import DeliveryFailed, RetrySchedule, WebhookSender
from backend.application.webhooks import InvalidWebhookUrl, UrlPolicy
from backend.domain.money import Money
from tests.application.saga_harness import Bank

OWNER = "owner-1"


@dataclass
class Receiver:
    """A transport that answers with the next scripted status (then 200) and records calls."""

    script: list[int | None] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def post(self, url: str, secret: str, message_id: str, body: str, timeout: float) -> SendResult:
        self.calls.append((url, message_id, body))
        status = self.script.pop(0) if self.script else 200
        return SendResult(status, None if status else "connection refused")


@dataclass
class Hooks:
    bank: Bank
    receiver: Receiver
    follower: FeedFollower
    sender: WebhookSender

    def create(self, *types: str, url: str = "https://hooks.example/in") -> Webhook:
        hook: Webhook = self.bank.runner.bus.execute(
            CreateWebhook(OWNER, url, types), EventMetadata()
        )
        return hook

    def run(self) -> list[str]:
        """Apply the log, then send whatever is due now until nothing is; the attempts'
        statuses."""
        self.follower.catch_up()
        statuses: list[str] = []
        while claims := self.sender.claim():
            statuses += [self._send(claim) for claim in claims]
        return statuses

    def _send(self, claim: object) -> str:
        try:
            return self.sender.send(claim)  # type: ignore[arg-type]
        except DeliveryFailed:
            return FAILED

    def deliveries(self) -> list[Delivery]:
        rows = self.bank.app.db.feed.deliveries.values()
        return [delivery for _, delivery in sorted(rows, key=lambda row: row[0])]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    bank = Bank()
    app = bank.app
    receiver = Receiver()
    follower = FeedFollower(app.uow, PublicEventMapper(default_codec()), app.clock, app.ids)
    schedule = RetrySchedule((5.0, 25.0, 125.0))
    sender = WebhookSender(app.uow, app.clock, app.ids, receiver, schedule, timeout=10.0)
    yield Hooks(bank, receiver, follower, sender)


def test_a_webhook_gets_the_events_committed_after_it_was_created(hooks: Hooks) -> None:
    hooks.bank.open(balance=5)
    hooks.create()
    hooks.bank.open(balance=7)

    assert hooks.run() == [SUCCEEDED]  # one claim: the account's two events, in order
    assert [d.status for d in hooks.deliveries()] == [SUCCEEDED, SUCCEEDED]
    bodies = [body for _, _, body in hooks.receiver.calls]
    assert ['"type":"account.opened"' in bodies[0], '"balance":7' in bodies[1]] == [True, True]


def test_filters_keep_only_the_chosen_types(hooks: Hooks) -> None:
    hooks.create("account.deposited")
    hooks.bank.open(balance=5)

    assert hooks.run() == [SUCCEEDED]
    assert [d.event_type for d in hooks.deliveries()] == ["account.deposited"]


def test_a_failed_attempt_is_retried_on_schedule_with_the_same_id(hooks: Hooks) -> None:
    hooks.create()
    hooks.bank.open()
    hooks.receiver.script = [500, None]
    clock = hooks.bank.app.clock

    assert hooks.run() == [PENDING]
    assert hooks.run() == []  # not due yet
    clock.advance(seconds=5)
    assert hooks.run() == [PENDING]
    clock.advance(seconds=25)
    assert hooks.run() == [SUCCEEDED]

    ids = {message_id for _, message_id, _ in hooks.receiver.calls}
    assert len(hooks.receiver.calls) == 3 and len(ids) == 1
    (delivery,) = hooks.deliveries()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (3, 200, None)


def test_a_delivery_fails_for_good_after_its_last_attempt_and_can_be_retried(
    hooks: Hooks,
) -> None:
    hook = hooks.create()
    hooks.bank.open()
    hooks.receiver.script = [503] * 4
    clock = hooks.bank.app.clock
    statuses = []
    for _ in range(4):
        statuses += hooks.run()
        clock.advance(seconds=200)

    assert statuses == [PENDING, PENDING, PENDING, FAILED]
    (delivery,) = hooks.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (FAILED, 4, "HTTP 503")

    bus = hooks.bank.runner.bus
    bus.execute(RetryDelivery(OWNER, hook.id, delivery.id), EventMetadata())
    assert hooks.run() == [SUCCEEDED]


def test_a_failing_endpoint_is_probed_one_delivery_at_a_time(hooks: Hooks) -> None:
    hooks.create()
    for _ in range(3):
        hooks.bank.open()
    hooks.receiver.script = [None, None, None]
    clock = hooks.bank.app.clock

    hooks.follower.catch_up()
    claims = hooks.sender.claim()
    assert len(claims) == 3  # three accounts: three subjects, all due at once
    assert [hooks._send(claim) for claim in claims] == [PENDING] * 3
    hooks.bank.open()
    # Three failures in a row: the endpoint backs off (125 s), a new event waits with it.
    clock.advance(seconds=30)
    assert hooks.run() == []
    clock.advance(seconds=100)
    hooks.follower.catch_up()
    (probe,) = hooks.sender.claim()  # one delivery tries the endpoint
    assert hooks.sender.send(probe) == SUCCEEDED
    assert hooks.run() == [SUCCEEDED] * 3


def test_events_of_one_subject_go_in_order_in_one_chain(hooks: Hooks) -> None:
    hooks.create()
    account = hooks.bank.open(balance=1)  # opened, deposited: one subject
    hooks.follower.catch_up()

    (chain,) = hooks.sender.claim()
    assert len(chain.then) == 1 and hooks.sender.claim() == []  # nothing else is due
    assert hooks.sender.send(chain) == SUCCEEDED
    assert [d.subject_id for d in hooks.deliveries()] == [account, account]
    types = [body.split('"type":"')[1].split('"')[0] for _, _, body in hooks.receiver.calls]
    assert types == ["account.opened", "account.deposited"]


def test_a_chain_stops_at_a_failure_and_gives_back_the_rest(hooks: Hooks) -> None:
    hooks.create()
    account = hooks.bank.open(balance=1)
    hooks.bank.runner.run(
        lambda ctx: _deposit(ctx, account), EventMetadata(user_id=OWNER)
    )  # a third event of the same subject
    hooks.follower.catch_up()
    hooks.receiver.script = [200, 500]

    (chain,) = hooks.sender.claim()
    assert len(chain.then) == 2
    assert hooks.sender.send(chain) == PENDING
    opened, deposited, again = hooks.deliveries()
    assert (opened.status, deposited.attempts, deposited.status) == (SUCCEEDED, 1, PENDING)
    assert (again.attempts, again.lease, again.status) == (0, None, PENDING)
    assert hooks.sender.claim() == []  # the second waits for its retry; the third behind it
    hooks.bank.app.clock.advance(seconds=5)
    assert hooks.run() == [SUCCEEDED]
    assert [d.status for d in hooks.deliveries()] == [SUCCEEDED] * 3


def _deposit(ctx: Any, account: str) -> None:
    loaded = ctx.accounts.get(account)
    loaded.deposit(Money(2, "EUR"))
    ctx.accounts.save(loaded, ctx.metadata)


def test_a_stale_claim_records_nothing(hooks: Hooks) -> None:
    hooks.create()
    hooks.bank.open()
    hooks.follower.catch_up()
    (claim,) = hooks.sender.claim()
    hooks.bank.app.clock.advance(seconds=hooks.sender.lease.total_seconds() + 1)
    (again,) = hooks.sender.claim()  # the first sender is presumed dead

    assert hooks.sender.send(claim) == ""
    assert hooks.sender.send(again) == SUCCEEDED


def test_a_deleted_webhook_gets_nothing_more(hooks: Hooks) -> None:
    hook = hooks.create()
    hooks.bank.open()
    hooks.follower.catch_up()
    hooks.bank.runner.bus.execute(DeleteWebhook(OWNER, hook.id), EventMetadata())

    assert hooks.run() == []
    assert hooks.deliveries() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/in",
        "https://127.0.0.1/in",
        "https://[::1]/in",
        "https://10.1.2.3/in",
        "https://169.254.169.254/latest",
        "https://localhost:8443/in",
        "https://user:pw@hooks.example/in",
        "ftp://hooks.example/in",
        "https://hooks.example:99999/in",
    ],
)
def test_production_refuses_urls_into_its_own_network(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        UrlPolicy(production=True).check(url)


def test_production_allows_public_https_and_listed_hosts() -> None:
    UrlPolicy(production=True).check("https://hooks.example/in")
    UrlPolicy(production=True, allow_hosts=("10.1.2.3",)).check("http://10.1.2.3:8080/in")
    UrlPolicy(production=False).check("http://127.0.0.1:9000/in")
    with pytest.raises(InvalidWebhookUrl):
        UrlPolicy(production=True).check_addresses("hooks.example", ["93.184.216.34", "10.0.0.7"])


def test_the_retry_schedule_spreads_8_attempts_over_more_than_a_day() -> None:
    schedule = RetrySchedule()
    delays = [schedule.after(n) for n in range(1, schedule.max_attempts)]

    assert schedule.max_attempts >= 8
    assert delays[0] <= timedelta(seconds=5)
    assert sum(delays, timedelta()) >= timedelta(hours=24)
    assert delays == sorted(delays)
