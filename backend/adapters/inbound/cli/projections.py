"""`hexbank projections rebuild [NAME] | status | run`: operate the read side's projections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from backend.adapters.inbound.cli.settings import load_settings
from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.adapters.outbound.sqlalchemy.rebuild import SqlAlchemyProjectionRebuilder
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.application.errors import UnmigratedDatabase
from backend.application.event_codec import default_codec
from backend.application.projections import default_projections
from backend.application.projections.runner import ProjectionRunner


@contextmanager
def primary_engine() -> Iterator[Engine]:
    """The primary database's engine, refused unless migrated; disposed after use."""
    settings = load_settings()
    engine = create_engine_for(settings.database_url)
    try:
        ensure_migrated(engine)
        yield engine
    except UnmigratedDatabase as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()


def _runner(engine: Engine) -> ProjectionRunner:
    projections = default_projections(default_codec())
    reader = SqlAlchemyReadModelReader(engine)
    return ProjectionRunner(lambda: SqlAlchemyUnitOfWork(engine), projections, reader)


@click.group()
def projections() -> None:
    """Rebuild, inspect and follow the read-side projections."""


@projections.command()
@click.argument("name", required=False)
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1, 50_000))
def rebuild(name: str | None, page_size: int) -> None:
    """Replay the event log from position 0 into fresh tables and swap them in.

    Commands keep working meanwhile. NAME is one projection (default: all of them).
    """
    console = Console()
    with primary_engine() as engine:
        rebuilder = SqlAlchemyProjectionRebuilder(
            engine, default_projections(default_codec()), page_size
        )
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
def status() -> None:
    """Show each projection's lag (head position minus checkpoint)."""
    with primary_engine() as engine:
        for name, lag in _runner(engine).lag().items():
            click.echo(f"{name}: lag {lag}")


@projections.command()
@click.option("--poll", default=0.5, show_default=True, help="Seconds between idle polls.")
def run(poll: float) -> None:
    """Follow the event log and keep the projections current (until interrupted)."""
    stop = threading.Event()
    with primary_engine() as engine:
        try:
            _runner(engine).run(stop, poll)
        except KeyboardInterrupt:
            stop.set()
