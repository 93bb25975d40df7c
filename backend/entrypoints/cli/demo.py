"""`hexbank demo`: seed the embedded database with a demo user and three months of history."""

from __future__ import annotations

import click

from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated
from backend.adapters.outbound.system import SystemClock
from backend.application.demo import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DemoOutcome,
    DemoSeeder,
    SteppingClock,
)
from backend.application.errors import UnmigratedDatabase
from backend.config import Settings
from backend.container import Container, build_container
from backend.entrypoints.cli.instance_lock import unserved
from backend.entrypoints.cli.runtime import Runtime, pass_runtime


def _seeder(container: Container, clock: SteppingClock) -> DemoSeeder:
    return DemoSeeder(
        identity=container.identity_service(),
        bus=container.command_bus(),
        engine=container.transfer_engine(),
        account_queries=container.account_queries(),
        clock=clock,
    )


def _report(outcome: DemoOutcome) -> None:
    if not outcome.created:
        click.echo(f"The demo data is already there; sign in as {DEMO_EMAIL}.")
        return
    ended = sum(status in ("completed", "failed") for status in outcome.transfer_statuses.values())
    click.echo(
        f"Created {len(outcome.account_ids)} accounts with three months of history and "
        f"{ended} finished transfers."
    )
    click.echo(f"Sign in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}.")


@click.command()
@pass_runtime
def demo(runtime: Runtime) -> None:
    """Create a demo user with accounts and months of history (embedded mode only; idempotent)."""
    settings = runtime.settings()
    if not settings.embedded:
        raise click.ClickException(
            "hexbank demo seeds the embedded database only: unset HEXBANK_REDIS_URL "
            "(it must not write demo data into a shared deployment)"
        )
    with unserved(settings.data_dir) as alone:
        if not alone:
            raise click.ClickException(
                f"a hexbank server is running on {settings.data_dir}: stop it, run "
                "`hexbank demo`, then start it again (its engine would time out the demo's "
                "back-dated transfers)"
            )
        _seed(settings)


def _seed(settings: Settings) -> None:
    # The seeder back-dates history by holding this clock; the container's runner, saga and
    # identity service all read it.
    clock = SteppingClock(SystemClock())
    container = build_container(settings, clock)
    try:
        ensure_migrated(container.engine())
        _report(_seeder(container, clock).seed())
    except UnmigratedDatabase as error:
        raise click.ClickException(str(error)) from error
    finally:
        container.engine().dispose()
