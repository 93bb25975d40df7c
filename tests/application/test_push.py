"""The push notifier: which user is told what, after a batch of committed events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.application import accounts
from backend.application.commands import Deposit
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.push import (
    ACCOUNT_UPDATED,
    TRANSFER_UPDATED,
    PushDelivery,
    PushMessage,
    StopListening,
)
from backend.application.projections import default_projections
from backend.application.projections.inline import inline_projector
from backend.application.push import PushNotifier, ReadModelPushViews, subscribe_push_notifier
from backend.application.queries import AccountQueries, AccountView, TransferQueries, TransferView
from backend.application.read_models import AccountSummary, TransferSummary
from tests.application.saga_harness import Bank

ALICE, BOB, CAROL = "alice", "bob", "carol"


@dataclass
class RecordingChannel:
    """A PushChannel that keeps each published batch."""

    published: list[list[PushMessage]] = field(default_factory=list)
    fail: bool = False

    def publish(self, messages: Sequence[PushMessage]) -> None:
        if self.fail:
            raise ConnectionError("pub/sub is down")
        self.published.append(list(messages))

    def listen(self, deliver: PushDelivery) -> StopListening:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def messages(self) -> list[PushMessage]:
        return [message for batch in self.published for message in batch]

    def to(self, user_id: str) -> list[PushMessage]:
        return [message for message in self.messages() if message.user_id == user_id]


@dataclass
class Pushing:
    bank: Bank
    channel: RecordingChannel
    notifier: PushNotifier


@pytest.fixture
def pushing() -> Pushing:
    bank = Bank()
    # Commands and saga steps project inline, as in the app: views are current at commit.
    bank.runner.inline_projector = inline_projector(default_projections(default_codec()))
    channel = RecordingChannel()
    notifier = PushNotifier(ReadModelPushViews(InMemoryReadModelReader(bank.app.db)), channel)
    subscribe_push_notifier(bank.dispatcher, notifier)
    return Pushing(bank, channel, notifier)


def transfers_to(messages: list[PushMessage], status: str) -> list[TransferView]:
    views = [m.resource for m in messages if m.type == TRANSFER_UPDATED]
    return [v for v in views if isinstance(v, TransferView) and v.status == status]


def account_views(messages: list[PushMessage], account_id: str) -> list[AccountView]:
    views = [m.resource for m in messages if m.type == ACCOUNT_UPDATED]
    return [v for v in views if isinstance(v, AccountView) and v.id == account_id]


def test_both_owners_of_a_completed_transfer_are_told_its_outcome(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)

    bank.run_until_quiet()

    for user in (ALICE, BOB):
        told = pushing.channel.to(user)
        # The transfer's first job ends its saga, so its push already carries the outcome; the
        # job of the saga's later events finds the same view and does not repeat it.
        assert [view.id for view in transfers_to(told, "completed")] == [transfer_id]
        last = [m.resource for m in told if m.type == TRANSFER_UPDATED][-1]
        assert isinstance(last, TransferView) and last.status == "completed"
    assert account_views(pushing.channel.to(ALICE), source)[-1].balance == 700
    assert account_views(pushing.channel.to(BOB), target)[-1].balance == 300


def test_a_user_is_never_told_about_anothers_account(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    bank.open(50, owner=CAROL)
    bank.transfer(source, target, 300, owner=ALICE)

    bank.run_until_quiet()

    assert {m.resource.id for m in pushing.channel.to(ALICE) if m.type == ACCOUNT_UPDATED} == {
        source
    }
    assert {m.resource.id for m in pushing.channel.to(BOB) if m.type == ACCOUNT_UPDATED} == {target}
    assert not transfers_to(pushing.channel.to(CAROL), "completed")


def test_a_batch_yields_one_message_per_user_and_resource_with_the_latest_view(
    pushing: Pushing,
) -> None:
    bank = pushing.bank
    account = bank.open(100, owner=ALICE)
    bank.transfer(account, bank.open(owner=BOB), 40, owner=ALICE)
    bank.run_until_quiet()
    history: list[StoredEvent] = [e for e in bank.app.db.events if e.stream_id == account]
    pushing.channel.published.clear()

    fresh = PushNotifier(ReadModelPushViews(InMemoryReadModelReader(bank.app.db)), pushing.channel)
    fresh.notify(history)  # a process that has published nothing yet

    (message,) = pushing.channel.messages()
    assert isinstance(message.resource, AccountView)
    assert (message.user_id, message.resource.balance, message.resource.version) == (
        ALICE,
        60,
        len(history),
    )


def test_a_view_already_published_by_this_process_is_not_published_again(
    pushing: Pushing,
) -> None:
    bank = pushing.bank
    account = bank.open(100, owner=ALICE)
    bank.run_until_quiet()
    history: list[StoredEvent] = [e for e in bank.app.db.events if e.stream_id == account]
    pushing.channel.published.clear()

    pushing.notifier.notify(history)  # redelivered: the view is the one published already
    assert pushing.channel.messages() == []

    deposit = Deposit(ALICE, account, 5)
    bank.runner.run(lambda ctx: accounts.deposit(deposit, ctx), EventMetadata(user_id=ALICE))
    bank.run_until_quiet()
    (message,) = pushing.channel.messages()
    assert isinstance(message.resource, AccountView)
    assert message.resource.version == len(history) + 1


def test_a_transfer_to_an_unknown_account_is_pushed_to_its_source_owner_only(
    pushing: Pushing,
) -> None:
    bank = pushing.bank
    source = bank.open(1000, owner=ALICE)
    bank.transfer(source, "no-such-account", 300, owner=ALICE)

    bank.run_until_quiet()

    failed = transfers_to(pushing.channel.messages(), "failed")
    assert failed and {m.user_id for m in pushing.channel.messages()} == {ALICE}


def test_a_failing_channel_does_not_fail_the_batch(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    pushing.channel.fail = True

    bank.run_until_quiet()

    assert bank.transfer_state(transfer_id).status == "completed"


class CountingReader(InMemoryReadModelReader):
    """Counts the reads of account and transfer rows."""

    reads = 0

    def account(self, account_id: str) -> AccountSummary | None:
        self.reads += 1
        return super().account(account_id)

    def transfer(self, transfer_id: str) -> TransferSummary | None:
        self.reads += 1
        return super().transfer(transfer_id)


def test_push_views_are_what_the_owners_read_through_the_api(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    bank.run_until_quiet()
    reader = InMemoryReadModelReader(bank.app.db)
    views = ReadModelPushViews(reader)

    assert views.account(source) == AccountQueries(reader).account(ALICE, source)
    assert views.transfer(transfer_id) == TransferQueries(reader).transfer(BOB, transfer_id)
    assert views.account("no-such-account") is None
    assert views.transfer("no-such-transfer") is None


def test_push_views_read_each_resource_once(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    bank.run_until_quiet()
    reader = CountingReader(bank.app.db)
    views = ReadModelPushViews(reader)

    views.account(source)
    views.transfer(transfer_id)

    assert reader.reads == 2
