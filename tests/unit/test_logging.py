"""Logged tracebacks must not carry frame locals: they hold passwords and tokens (R15)."""

from __future__ import annotations

import io
import logging

import pytest

from backend.logging_setup import configure_logging


def _login_view(password: str) -> None:
    raise RuntimeError("database exploded")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_logged_exception_never_shows_the_locals_of_its_frames(log_format: str) -> None:
    configure_logging(log_format, "INFO")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[-1]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)

    # Built at run time, as a real password is: the console renderer shows source lines.
    secret = "-".join(["correct", "horse", "battery", "staple"])
    try:
        _login_view(password=secret)
    except RuntimeError:
        logging.getLogger("hexbank.test").exception("request failed")

    output = stream.getvalue()
    assert "database exploded" in output
    assert secret not in output
