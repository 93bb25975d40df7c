"""Structured logging: structlog and the standard library share one formatter on the root logger."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import Processor

# Marks the handler we own, so that reconfiguring replaces it and leaves others (pytest's) alone.
_HANDLER_NAME = "hexbank"


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Send every log record (ours and libraries') to stderr as JSON lines or readable text."""
    shared = _shared_processors()
    structlog.configure(
        # filter_by_level first: a line below the level costs no processing (every command
        # and request logs one at INFO).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_render(log_format),
            ],
        )
    )
    _install_root_handler(handler, level)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _render(log_format: str) -> list[Processor]:
    # Tracebacks never carry frame locals: a view's locals hold passwords and tokens (R15).
    if log_format == "json":
        tracebacks = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        return [tracebacks, structlog.processors.JSONRenderer()]
    # Plain tracebacks: rich's highlighted ones cost seconds of CPU under the GIL each, which
    # starves request threads whenever a background loop logs a failure.
    return [
        structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    ]


def _install_root_handler(handler: logging.Handler, level: str) -> None:
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger that goes through the standard library (and so through our handler)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
