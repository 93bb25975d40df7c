"""The push notifier: tells users what changed, after it committed.

It runs after commit, never inside a command: a push announces a state that is already durable
and already on the read side (commands and the engine's rounds project inline). Two callers:
the transfer engine's pass (`announce`; a failure is logged and swallowed, a committed round
never fails for a push) and the relay's batches of the commands' events (`notify`; a failure
raises, so the batch stays in the outbox until the channel is back).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence

from backend.application.bounded import RecentValues
from backend.application.messaging import MessageDispatcher
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.push import (
    ACCOUNT_UPDATED,
    TRANSFER_UPDATED,
    PushChannel,
    PushMessage,
    PushViews,
)
from backend.application.ports.read_models import ReadModelReader
from backend.application.queries import AccountView, account_view
from backend.application.read_models import TransferSummary
from backend.domain.account import Account
from backend.domain.transfer import Transfer

log = logging.getLogger(__name__)


class PushNotifier:
    """Publishes, per batch, the latest view of each account and transfer the batch touched."""

    def __init__(self, views: PushViews, channel: PushChannel, remember: int = 10_000) -> None:
        self._views = views
        self._channel = channel
        #: The last view published per resource: a later batch of the same resource whose
        #: view has not changed since (the events of a saga that already ran in the job of its
        #: request) publishes nothing again.
        self._published: RecentValues[tuple[str, str], object] = RecentValues(remember)

    def notify(self, batch: Sequence[StoredEvent]) -> None:
        """Publish the updates of a batch the relay delivers (the commands' events). A failure
        to publish raises: the batch stays in the outbox and is pushed once the channel is
        back (e.g. Redis restarted), instead of being lost."""
        self._publish(self.messages_for(batch))

    def _publish(self, messages: list[PushMessage]) -> None:
        messages = [m for m in messages if not self._published_already(m)]
        if messages:
            self._channel.publish(messages)
            for message in messages:
                self._published.put((message.type, message.resource.id), message.resource)

    def _published_already(self, message: PushMessage) -> bool:
        return self._published.get((message.type, message.resource.id)) == message.resource

    def announce(self, account_ids: Collection[str], transfer_ids: Collection[str]) -> None:
        """Publish the current views of these accounts and transfers (the transfer engine's
        pass, which knows what it changed); never raises."""
        try:
            self._publish(self._messages(account_ids, transfer_ids))
        except Exception:
            log.exception("push notification failed; clients will see it on their next read")

    def messages_for(self, batch: Sequence[StoredEvent]) -> list[PushMessage]:
        """At most one message per (user, resource), each with the resource's current view.

        Coalescing falls out of reading each touched resource once: ten events of one
        account in a batch become one `account.updated` carrying the state after all ten.
        """
        accounts = _streams_of(batch, Account.STREAM_TYPE)
        return self._messages(accounts, _streams_of(batch, Transfer.STREAM_TYPE))

    def _messages(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> list[PushMessage]:
        if not account_ids and not transfer_ids:
            return []
        accounts, transfers = self._views.views(account_ids, transfer_ids)
        messages = [PushMessage(a.owner_id, ACCOUNT_UPDATED, a) for a in accounts]
        for transfer in transfers:
            messages.extend(_to_both_sides(transfer))
        return messages


def subscribe_push_notifier(dispatcher: MessageDispatcher, notifier: PushNotifier) -> None:
    """Run the notifier after each batch's subscribers (saga steps first: they come first)."""
    dispatcher.batch_subscribers.append(notifier.notify)


def _streams_of(batch: Iterable[StoredEvent], stream_type: str) -> list[str]:
    """Distinct stream ids of one type, in order of first appearance."""
    return list(dict.fromkeys(e.stream_id for e in batch if e.stream_type == stream_type))


def _to_both_sides(transfer: TransferSummary) -> list[PushMessage]:
    # The target may have no owner (an unknown account); one owner of both sides gets one copy.
    owners = dict.fromkeys(o for o in (transfer.source_owner_id, transfer.target_owner_id) if o)
    return [PushMessage(owner, TRANSFER_UPDATED, transfer) for owner in owners]


class ReadModelPushViews:
    """PushViews over the read models: one read for all the resources, in the API's shapes.

    No owner check here (the notifier addresses each view to its owners), so no query
    service: those read the row to check the caller, then again to answer.
    """

    def __init__(self, reader: ReadModelReader) -> None:
        self._reader = reader

    def views(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[list[AccountView], list[TransferSummary]]:
        accounts, transfers = self._reader.accounts_and_transfers(account_ids, transfer_ids)
        ordered_accounts = [account_view(accounts[i]) for i in account_ids if i in accounts]
        return ordered_accounts, [transfers[i] for i in transfer_ids if i in transfers]
