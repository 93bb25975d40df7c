"""The push notifier: which user is told what, after a batch of committed events."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pytest

from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.application import accounts
from backend.application.commands import Deposit
from backend.application.event_codec import default_codec
from backend.application.messaging import MessageDispatcher
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
from backend.application.queries import AccountQueries, AccountView, TransferQueries
from backend.application.read_models import AccountSummary, TransferSummary
from backend.application.transfer_engine import with_work_tracking
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
    dispatcher: MessageDispatcher

    def settle(self) -> None:
        """As the app runs: the relay's jobs push the commands' events, the engine pushes what
        its rounds changed."""
        self.bank.relay_pending()
        while self.bank.queue.batches:
            self.dispatcher.dispatch(self.bank.queue.batches.pop(0))
        self.bank.run_until_quiet()


@pytest.fixture
def pushing() -> Pushing:
    bank = Bank()
    # Commands and engine rounds project inline, as in the app: views are current at commit.
    projector = inline_projector(default_projections(default_codec()))
    bank.runner.bus.inline_projector = with_work_tracking(projector)
    channel = RecordingChannel()
    notifier = PushNotifier(ReadModelPushViews(InMemoryReadModelReader(bank.app.db)), channel)
    bank.engine.announce = notifier.announce
    dispatcher = MessageDispatcher()
    subscribe_push_notifier(dispatcher, notifier)
    return Pushing(bank, channel, notifier, dispatcher)


def transfers_to(messages: list[PushMessage], status: str) -> list[TransferSummary]:
    views = [m.resource for m in messages if m.type == TRANSFER_UPDATED]
    return [v for v in views if isinstance(v, TransferSummary) and v.status == status]


def account_views(messages: list[PushMessage], account_id: str) -> list[AccountView]:
    views = [m.resource for m in messages if m.type == ACCOUNT_UPDATED]
    return [v for v in views if isinstance(v, AccountView) and v.id == account_id]


def test_both_owners_of_a_completed_transfer_are_told_its_outcome(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)

    pushing.settle()

    for user in (ALICE, BOB):
        told = pushing.channel.to(user)
        # The engine pushes once for its whole run: the outcome, not the steps before it.
        assert [view.id for view in transfers_to(told, "completed")] == [transfer_id]
        last = [m.resource for m in told if m.type == TRANSFER_UPDATED][-1]
        assert isinstance(last, TransferSummary) and last.status == "completed"
    assert account_views(pushing.channel.to(ALICE), source)[-1].balance == 700
    assert account_views(pushing.channel.to(BOB), target)[-1].balance == 300


def test_a_user_is_never_told_about_anothers_account(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    bank.open(50, owner=CAROL)
    bank.transfer(source, target, 300, owner=ALICE)

    pushing.settle()

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
    pushing.settle()
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
    pushing.settle()
    history: list[StoredEvent] = [e for e in bank.app.db.events if e.stream_id == account]
    pushing.channel.published.clear()

    pushing.notifier.notify(history)  # redelivered: the view is the one published already
    assert pushing.channel.messages() == []

    deposit = Deposit(ALICE, account, 5)
    bank.runner.run(lambda ctx: accounts.deposit(deposit, ctx), EventMetadata(user_id=ALICE))
    pushing.settle()
    (message,) = pushing.channel.messages()
    assert isinstance(message.resource, AccountView)
    assert message.resource.version == len(history) + 1


def test_a_transfer_to_an_unknown_account_is_pushed_to_its_source_owner_only(
    pushing: Pushing,
) -> None:
    bank = pushing.bank
    source = bank.open(1000, owner=ALICE)
    bank.transfer(source, "no-such-account", 300, owner=ALICE)

    pushing.settle()

    failed = transfers_to(pushing.channel.messages(), "failed")
    assert failed and {m.user_id for m in pushing.channel.messages()} == {ALICE}


def test_a_failing_channel_never_fails_the_engine_and_keeps_the_relays_batch(
    pushing: Pushing,
) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    pushing.channel.fail = True

    bank.run_until_quiet()  # the engine's push fails: logged, its round committed anyway
    assert bank.transfer_state(transfer_id).status == "completed"
    bank.relay_pending()
    with pytest.raises(ConnectionError):  # the relay's job fails: its rows are sent again
        pushing.dispatcher.dispatch(bank.queue.batches[0])


class CountingReader(InMemoryReadModelReader):
    """Counts the reads of account and transfer rows."""

    reads = 0

    def account(self, account_id: str) -> AccountSummary | None:
        self.reads += 1
        return super().account(account_id)

    def transfer(self, transfer_id: str) -> TransferSummary | None:
        self.reads += 1
        return super().transfer(transfer_id)

    def accounts_and_transfers(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[dict[str, AccountSummary], dict[str, TransferSummary]]:
        self.reads += 1
        return super().accounts_and_transfers(account_ids, transfer_ids)


def test_push_views_are_what_the_owners_read_through_the_api(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    pushing.settle()
    reader = InMemoryReadModelReader(bank.app.db)
    views = ReadModelPushViews(reader)

    accounts, transfers = views.views([source, "no-such-account"], [transfer_id, "no-such"])
    assert accounts == [AccountQueries(reader).account(ALICE, source)]
    assert transfers == [TransferQueries(reader).transfer(BOB, transfer_id)]


def test_push_views_read_every_resource_at_once(pushing: Pushing) -> None:
    bank = pushing.bank
    source, target = bank.open(1000, owner=ALICE), bank.open(owner=BOB)
    transfer_id = bank.transfer(source, target, 300, owner=ALICE)
    pushing.settle()
    reader = CountingReader(bank.app.db)
    views = ReadModelPushViews(reader)

    views.views([source, target], [transfer_id])

    assert reader.reads == 1
