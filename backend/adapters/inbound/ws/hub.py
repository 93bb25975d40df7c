"""The open sockets of one web process, by user, and the fan-out of pushes to them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from backend.application.ports.push import PushChannel, StopListening

log = logging.getLogger(__name__)

#: Close codes: private-use 4401 mirrors HTTP 401; 1008 is "policy violation" (RFC 6455).
UNAUTHORIZED = 4401
POLICY_VIOLATION = 1008
GOING_AWAY = 1001

#: Whether an access token is still genuine, unexpired and unrevoked. It may raise when the
#: check itself fails (say the denylist store is down): callers decide what that means.
TokenCheck = Callable[[str], bool]


class WebSocket(Protocol):
    """What the hub uses of a server-side socket (a LoopSocket): callable from any thread."""

    connected: bool

    def send(self, data: str) -> None: ...

    def close(self, reason: int | None = None, message: str | None = None) -> None: ...


class SocketSession:
    """One authenticated socket: its user, its token, and the lock that serialises its sends.

    Pushes (the channel's thread) and `ready` (a check thread) are queued to the socket loop;
    the lock orders them: the endpoint holds it across registering the socket and queueing
    `ready`, so no push is queued before `ready`. It is re-entrant for that reason.
    """

    def __init__(self, ws: WebSocket, user_id: str, token: str) -> None:
        self.ws = ws
        self.user_id = user_id
        self.token = token
        self.lock = threading.RLock()
        self._open = True

    @property
    def open(self) -> bool:
        return self._open and self.ws.connected

    def send(self, text: str) -> bool:
        """Send one message; False (and the session is over) when the socket is gone."""
        with self.lock:
            if not self.open:
                return False
            try:
                self.ws.send(text)
                return True
            except Exception:  # closed by the peer, broken pipe, or a send that timed out
                self._open = False
                return False

    def close(self, code: int, reason: str) -> None:
        with self.lock:
            was_open, self._open = self.open, False
            if was_open:
                try:
                    self.ws.close(code, reason)
                except Exception:  # already closed under us: nothing left to tell the peer
                    log.debug("close of a closed socket", exc_info=True)


class PushHub:
    """Sessions by user; listens to the push channel (lazily) and delivers to its sockets."""

    def __init__(self, channel: Callable[[], PushChannel], token_valid: TokenCheck) -> None:
        self._channel = channel
        self._token_valid = token_valid
        self._sessions: dict[str, list[SocketSession]] = {}
        self._lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._stop_listening: StopListening | None = None

    def add(self, session: SocketSession, max_per_user: int) -> bool:
        """Register a session; False when its user already has `max_per_user` open."""
        self._listen()
        with self._lock:
            mine = self._sessions.setdefault(session.user_id, [])
            if len(mine) >= max_per_user:
                return False
            mine.append(session)
            return True

    def remove(self, session: SocketSession) -> None:
        with self._lock:
            mine = self._sessions.get(session.user_id, [])
            if session in mine:
                mine.remove(session)
            if not mine:
                self._sessions.pop(session.user_id, None)

    def sessions(self) -> list[SocketSession]:
        """A snapshot of every registered session."""
        with self._lock:
            return [session for mine in self._sessions.values() for session in mine]

    def connections(self, user_id: str | None = None) -> int:
        with self._lock:
            if user_id is not None:
                return len(self._sessions.get(user_id, ()))
            return sum(len(sessions) for sessions in self._sessions.values())

    def deliver(self, burst: Sequence[tuple[str, str]]) -> None:
        """Send each (user, text) to that user's sockets whose token still holds; runs on the
        channel's thread. Each socket's token is checked once per burst."""
        texts: dict[str, list[str]] = {}
        for user_id, text in burst:
            texts.setdefault(user_id, []).append(text)
        with self._lock:
            targets = [(s, texts[user]) for user in texts for s in self._sessions.get(user, ())]
        for session, pending in targets:
            self._push(session, pending)

    def close(self) -> None:
        """Stop listening and close every socket (worker shutdown, tests)."""
        with self._listen_lock:
            stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            stop()
        for session in self.sessions():
            session.close(GOING_AWAY, "server shutting down")

    def _push(self, session: SocketSession, texts: list[str]) -> None:
        try:
            valid = self._token_valid(session.token)
        except Exception:
            # Fail closed for these messages (we cannot tell whether the token was revoked),
            # but keep the socket: the outage is ours, not the client's.
            log.warning("token check failed; push skipped", exc_info=True)
            return
        if not valid:
            session.close(UNAUTHORIZED, "token expired or revoked")
            return
        for text in texts:
            if not session.send(text):
                return

    def _listen(self) -> None:
        # Subscribing on the first socket, not at start-up, keeps the channel's thread out of
        # a pre-fork master process (STACK.md gotcha 7).
        with self._listen_lock:
            if self._stop_listening is None:
                self._stop_listening = self._channel().listen(self.deliver)
