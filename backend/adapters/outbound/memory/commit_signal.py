"""In-process commit signal: embedded mode, where the relay runs beside the web threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

from backend.application.ports.commit_signal import StopWaking


class InMemoryCommitSignal:
    """CommitSignal within one process: `notify` calls each listener (a relay loop's wake,
    which only sets an event) in the committing thread."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def notify(self) -> None:
        for wake in self._listeners:
            wake()

    def listen(self, wake: Callable[[], None]) -> StopWaking:
        with self._lock:
            self._listeners = [*self._listeners, wake]  # copy-on-write: notify reads it unlocked
        return lambda: self._forget(wake)

    def _forget(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._listeners = [w for w in self._listeners if w is not wake]
