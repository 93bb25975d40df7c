"""The name of the commands a context runs, for logs and metrics (the runner only sees a
closure, so the entry point that knows what it is doing names them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Final

#: The command type when nothing named one (see `command_type`).
UNNAMED_COMMAND: Final = "other"

_COMMAND_TYPE: ContextVar[str] = ContextVar("hexbank_command_type", default=UNNAMED_COMMAND)


def current_command_type() -> str:
    """The name the caller gave the commands it is running (e.g. the HTTP endpoint)."""
    return _COMMAND_TYPE.get()


def name_commands(name: str) -> Token[str]:
    """Name the commands this context runs from now on. Undo with `unname_commands(token)`."""
    return _COMMAND_TYPE.set(name)


def unname_commands(token: Token[str]) -> None:
    """Give the commands back the name they had before `name_commands` returned `token`."""
    _COMMAND_TYPE.reset(token)


@contextmanager
def command_type(name: str) -> Iterator[None]:
    """Name the commands run inside the block."""
    token = name_commands(name)
    try:
        yield
    finally:
        unname_commands(token)
