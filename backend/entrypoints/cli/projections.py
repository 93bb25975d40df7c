"""`hexbank projections rebuild [NAME] | status | run`: operate the read side's projections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated
from backend.application.errors import UnmigratedDatabase
from backend.container import Container
from backend.entrypoints.cli.runtime import Runtime, pass_runtime


@contextmanager
def migrated(runtime: Runtime) -> Iterator[Container]:
    """The command's container, once its database is known to be migrated; closed after."""
    container = runtime.container()
    try:
        ensure_migrated(container.engine())
        yield container
    except UnmigratedDatabase as error:
        raise click.ClickException(str(error)) from error
    finally:
        container.engine().dispose()


@click.group()
def projections() -> None:
    """Rebuild, inspect and follow the read-side projections."""


@projections.command()
@click.argument("name", required=False)
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1, 50_000))
@pass_runtime
def rebuild(runtime: Runtime, name: str | None, page_size: int) -> None:
    """Replay the event log from position 0 into fresh tables and swap them in.

    Commands keep working meanwhile. NAME is one projection (default: all of them).
    """
    console = Console()
    with migrated(runtime) as container:
        rebuilder = container.projection_rebuilder(page_size=page_size)
        if name is not None and name not in rebuilder.names:
            raise click.BadParameter(f"choose from {', '.join(rebuilder.names)}", param_hint="NAME")
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task(f"rebuilding {name or 'all projections'}", total=None)
            result = rebuilder.rebuild(
                name, lambda done, head: bar.update(task, completed=done, total=head)
            )
    console.print(
        f"rebuilt {', '.join(result.projections)}: {result.events:,} events in "
        f"{result.seconds:.2f} s ({result.events_per_second:,.0f} events/s)"
    )


@projections.command()
@pass_runtime
def status(runtime: Runtime) -> None:
    """Show each projection's lag (head position minus checkpoint)."""
    with migrated(runtime) as container:
        for name, lag in container.projection_runner().lag().items():
            click.echo(f"{name}: lag {lag}")


@projections.command()
@click.option("--poll", default=0.5, show_default=True, help="Seconds between idle polls.")
@pass_runtime
def run(runtime: Runtime, poll: float) -> None:
    """Follow the event log and keep the projections current (until interrupted)."""
    stop = threading.Event()
    with migrated(runtime) as container:
        try:
            container.projection_runner().run(stop, poll)
        except KeyboardInterrupt:
            stop.set()
