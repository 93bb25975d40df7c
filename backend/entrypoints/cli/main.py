"""The `hexbank` command group; subcommands are added from their own modules."""

from __future__ import annotations

import click

from backend.entrypoints.cli.audit import audit
from backend.entrypoints.cli.demo import demo
from backend.entrypoints.cli.migrate import migrate
from backend.entrypoints.cli.projections import projections
from backend.entrypoints.cli.serve import serve
from backend.entrypoints.cli.worker import jobs, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hexbank")
def cli() -> None:
    """hexbank: event-sourced accounts and transfers."""
    # Each command takes its settings and container from a Runtime (see `pass_runtime`).


# One line per topic module: cli.add_command(<command or group>).
cli.add_command(serve)
cli.add_command(migrate)
cli.add_command(projections)
cli.add_command(worker)
cli.add_command(jobs)
cli.add_command(demo)
cli.add_command(audit)
