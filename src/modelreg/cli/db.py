"""`modelreg db ...`: migrations, adoption of an existing database, verification."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.service import record_change
from modelreg.cli.common import console, err_console, reported_errors, url
from modelreg.cli.runner import cli_actor, run_in_transaction
from modelreg.db import adopt as adoption
from modelreg.db import migrate
from modelreg.db.engine import sync_engine
from modelreg.verify.report import build_report, to_markdown

app = typer.Typer(help="Schema migrations, adoption and verification.", no_args_is_help=True)


def announce_schema_change(before: str | None, after: str | None) -> None:
    """A migration is a change too: recorded like any other, so that running instances reload
    (nothing to record when no revision ran, or below the revision that adds the change log)."""
    if before == after:
        return

    async def work(db: AsyncSession) -> None:
        if await audit_repository.change_log_exists(db):
            await record_change(
                db,
                actor=cli_actor(),
                action="schema_migrate",
                reason=None,
                after={"from_revision": before, "to_revision": after},
                audited=False,
            )

    run_in_transaction(work)


def _report_retry(attempt: int, delay: float) -> None:
    err_console.print(
        f"a lock was not available in time (lock_timeout); retry {attempt} in {delay:.1f}s",
        markup=False,
    )


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: head).")] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it.")
    ] = False,
) -> None:
    """Apply migrations up to REVISION."""
    if sql:
        typer.echo(migrate.offline_sql(f"base:{revision}"), nl=False)
        return
    with (
        reported_errors(),
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("backfilling meta", total=None, visible=False)

        def on_batch(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=True)

        target = url()
        before, after = migrate.upgrade(target, revision, progress=on_batch, on_retry=_report_retry)
        announce_schema_change(before, after)
    console.print(f"at revision {migrate.current_revision(target)}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0005_validate.")],
) -> None:
    """Revert migrations down to REVISION (stops, changing nothing, if data would be lost)."""
    with reported_errors():
        target = url()
        before, after = migrate.downgrade(target, revision, on_retry=_report_retry)
        announce_schema_change(before, after)
    console.print(f"at revision {migrate.current_revision(target)}")


@app.command()
def current() -> None:
    """Print the database's current revision."""
    console.print(migrate.current_revision(url()) or "none (empty or unmanaged database)")


@app.command()
def history() -> None:
    """List every revision, oldest first."""
    table = Table("revision", "description")
    for revision, description in migrate.history():
        table.add_row(revision, description)
    console.print(table)


@app.command()
def sql(
    revision_range: Annotated[str, typer.Argument(help="Range, e.g. base:head.")] = "base:head",
) -> None:
    """Print the offline SQL of a revision range (what `alembic upgrade --sql` prints)."""
    typer.echo(migrate.offline_sql(revision_range), nl=False)


@app.command()
def adopt() -> None:
    """Take over a database whose models table another tool created in the baseline shape.

    Checks the table column by column; on a match, stamps it at 0001_baseline so that
    `modelreg db upgrade` can take it forward. On any difference, lists them and stamps nothing.
    """
    target = url()
    engine = sync_engine(target)
    try:
        with engine.connect() as conn, conn.begin():
            try:
                differences = adoption.check(conn)
            except adoption.AlreadyManaged as exc:
                console.print(str(exc))
                return
    finally:
        engine.dispose()
    if differences:
        err_console.print("[red]the models table does not match the baseline schema:[/red]")
        for difference in differences:
            err_console.print(f"  - {difference}", markup=False)
        err_console.print("nothing was stamped")
        raise typer.Exit(1)
    migrate.stamp(target, migrate.BASELINE)
    console.print(
        f"adopted: models matches the baseline; stamped {migrate.BASELINE}. "
        "Next: modelreg db upgrade"
    )


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"


@app.command()
def verify(
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.markdown,
) -> None:
    """Prove the migration: rows, meta, indexes and query plans. Exit 0 only if all pass."""
    engine = sync_engine(url())
    try:
        with engine.connect() as conn:
            report = build_report(conn)
    finally:
        engine.dispose()
    if format is ReportFormat.json:
        typer.echo(report.to_json())
    else:
        typer.echo(to_markdown(report), nl=False)
    if not report.ok:
        raise typer.Exit(1)
