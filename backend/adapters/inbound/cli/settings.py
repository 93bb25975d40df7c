"""Loading settings for a command: configuration errors become clean CLI errors."""

from __future__ import annotations

import click

from backend.config import ConfigError, Settings
from backend.logging_setup import configure_logging


def load_settings() -> Settings:
    """Settings from the environment, with logging configured from them."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_format, settings.log_level)
    return settings
