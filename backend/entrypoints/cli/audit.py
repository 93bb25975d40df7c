"""`hexbank audit verify`: re-check the hash chains and the read models against the log.

Exit status: 0 when everything agrees, 1 when a chain breaks or a read-model row differs
(each named), 2 when the check could not run (usage, configuration, an unmigrated or
unreachable database): scripts can tell "tampered" from "not checked".
"""

from __future__ import annotations

import click
from sqlalchemy.exc import DBAPIError

from backend.application.audit.rows import RowMismatch
from backend.application.audit.verify import AuditReport, verify
from backend.entrypoints.cli.projections import migrated
from backend.entrypoints.cli.runtime import Runtime, pass_runtime


class NotChecked(click.ClickException):
    """The check could not run at all: exit 2, never 1 (which means "something was changed")."""

    exit_code = 2


@click.group()
def audit() -> None:
    """Tamper evidence: check the event log and the read models."""


@audit.command(name="verify")
@pass_runtime
def verify_command(runtime: Runtime) -> None:
    """Recompute every stream's hash chain and every read-model row from the log.

    Read only: the service may keep running. Exits 1 naming the first broken stream and
    version, and the first read-model row that differs from the log.
    """
    try:
        with migrated(runtime) as container:
            report = verify(container.audit_sources(), container.projections(), container.codec())
    except click.ClickException as error:
        raise NotChecked(error.message) from error
    except DBAPIError as error:
        raise NotChecked(f"cannot read the database: {error.orig}") from error
    for line in report_lines(report):
        click.echo(line)
    if not report.intact:
        raise SystemExit(1)


def report_lines(report: AuditReport) -> list[str]:
    """The summary, then what broke (if anything)."""
    marks = ", ".join(f"{name} at position {mark}" for name, mark in report.checkpoints.items())
    lines = [
        f"hash chains: {report.events} events in {report.streams} streams checked;"
        f" log digest {report.digest}",
        f"read models: {report.rows} rows checked against the log ({marks});"
        f" snapshots: {report.snapshots} checked",
    ]
    if (broken := report.chain_break) is not None:
        where = f"stream {broken.stream_id} version {broken.version}"
        lines.append(f"BROKEN CHAIN: {where}: {broken.reason}")
    if (row := report.mismatch) is not None:
        lines.append(f"ROW DIFFERS: {row.table} [{row.key}] of {row.belongs_to}: {row.reason}")
        lines += _differences(row)
    if (snapshot := report.snapshot_mismatch) is not None:
        lines.append(f"SNAPSHOT DIFFERS: {snapshot.key}: {snapshot.reason}")
        lines += _differences(snapshot)
    if report.intact:
        lines.append("OK: every chain holds; every read-model row and snapshot agrees with the log")
    return lines


def _differences(mismatch: RowMismatch) -> list[str]:
    return [
        f"  {name}: stored {stored!r}, from the log {logged!r}"
        for name, stored, logged in mismatch.fields
    ]
