"""What a `hexbank` command runs on: the settings from the environment and the container
built from them, once per invocation (click's context object; tests pass their own)."""

from __future__ import annotations

import click

from backend.config import ConfigError, Settings
from backend.container import Container, build_container
from backend.logging_setup import configure_logging


class Runtime:
    """Settings and container of one command, each made when first asked for."""

    def __init__(self, settings: Settings | None = None, container: Container | None = None):
        self._settings = settings
        self._container = container

    def settings(self) -> Settings:
        """The settings (from the environment unless given), with logging configured."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def container(self) -> Container:
        """The container of this command (built from `settings()` unless given)."""
        if self._container is None:
            self._container = build_container(self.settings())
        return self._container


#: Hands a command its Runtime (a fresh one when the caller passed none).
pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


def load_settings() -> Settings:
    """Settings from the environment, with logging configured from them; a configuration
    error becomes a clean CLI error naming the variable."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_format, settings.log_level)
    return settings
