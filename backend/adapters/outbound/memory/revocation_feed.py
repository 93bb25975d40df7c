"""In-process revocation feed: embedded mode, where one process is the whole deployment."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from backend.application.ports.tokens import ApplyRevocations, Revocation


class InMemoryRevocationFeed:
    """RevocationFeed of a single process: an announcement is applied before it returns."""

    def __init__(self) -> None:
        self._listeners: list[ApplyRevocations] = []

    def announce(self, revocations: Sequence[Revocation]) -> None:
        for apply in self._listeners:
            apply(revocations)

    def listen(self, reload: Callable[[], None], apply: ApplyRevocations) -> None:
        reload()
        self._listeners = [*self._listeners, apply]

    def trusted(self) -> bool:
        return True

    def close(self) -> None:
        self._listeners = []
