"""The push ports: the channel that carries resource updates to users' open sockets, and the
views it announces."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from backend.application.queries import AccountView
from backend.application.read_models import TransferSummary

ACCOUNT_UPDATED: Final = "account.updated"
TRANSFER_UPDATED: Final = "transfer.updated"


@dataclass(frozen=True, slots=True)
class PushMessage:
    """The latest view of one resource, for one user who may see it."""

    user_id: str
    type: str  # ACCOUNT_UPDATED or TRANSFER_UPDATED
    resource: AccountView | TransferSummary


#: Renders a message as the text a socket receives (the API's JSON shapes live in adapters).
PushEncoder = Callable[[PushMessage], str]
#: Takes (user id, encoded message) pairs in publishing order, inside a web process; must not
#: raise. Channels hand over whatever queued up meanwhile in one call, so that per-socket work
#: (the token check) is paid once per burst rather than once per message.
PushDelivery = Callable[[Sequence[tuple[str, str]]], None]
#: Stops a delivery registered with `PushChannel.listen`.
StopListening = Callable[[], None]


class PushChannel(Protocol):
    """Carries push messages from any process (web or worker) to every web process.

    Best effort by design: a message published while nobody listens is gone, and clients
    re-read with GET after a reconnect. What must hold is that a message reaches the sockets
    of its user whichever process published it and whichever process holds the socket.
    """

    def publish(self, messages: Sequence[PushMessage]) -> None:
        """Send each message to its user's sockets in every listening process."""
        ...

    def listen(self, deliver: PushDelivery) -> StopListening:
        """Call `deliver` for every message published from now on (once subscribed: the call
        returns when the subscription is live, or after a bounded wait if it cannot be)."""
        ...

    def close(self) -> None:
        """Stop delivering and release the channel's thread and connections."""
        ...


class PushViews(Protocol):
    """The current views the notifier publishes (the read side, on the primary database)."""

    def views(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[list[AccountView], list[TransferSummary]]:
        """These accounts and transfers as GET shows them now (those that exist), one read."""
        ...
