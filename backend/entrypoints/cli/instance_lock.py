"""Who is using an embedded data directory: `hexbank serve` says so, `hexbank demo` checks.

The demo back-dates its history a month; a server running on the same database would see its
transfers' deadlines long past and time them out (its engine) before the demo finishes them. A
server holds a shared advisory lock on a file in the data directory for as long as it runs
(its gunicorn workers inherit it); the demo needs the lock exclusively. The kernel drops the
lock when the server dies, even by kill -9, so a crash never leaves a stale one.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_FILE = "hexbank.lock"

#: The lock a serving process holds open until it exits.
_held: list[IO[bytes]] = []


def hold_while_serving(data_dir: Path) -> None:
    """Mark the data directory as served until this process (and its forks) exit."""
    handle = _open(data_dir)
    fcntl.flock(handle, fcntl.LOCK_SH)
    _held.append(handle)


@contextmanager
def unserved(data_dir: Path) -> Iterator[bool]:
    """True (and the directory kept unserved meanwhile) when no server is running on it."""
    with _open(data_dir) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _open(data_dir: Path) -> IO[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return (data_dir / LOCK_FILE).open("ab")
