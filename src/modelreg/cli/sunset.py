"""`modelreg sunset plan|run`: what the sunset scheduler will do and when, or do it now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.cli.common import console, reported_errors
from modelreg.cli.runner import run_in_transaction
from modelreg.config import get_settings
from modelreg.events import repository as events_repository
from modelreg.events import sunset

app = typer.Typer(help="Automatic sunset of legacy models.", no_args_is_help=True)

At = Annotated[
    datetime | None,
    typer.Option("--at", help="The moment to plan or run for (ISO 8601, UTC); default now."),
]


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return sunset.utc_now()
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _table(steps: list[sunset.Step], now: datetime) -> Table:
    table = Table("when (UTC)", "model", "what", "replacement", "due")
    for step in steps:
        what = (
            f"model.sunset_approaching ({step.lead_days} days ahead)"
            if step.action == "notice"
            else "archive (model.sunset)"
        )
        table.add_row(
            step.at.astimezone(UTC).isoformat(timespec="minutes"),
            step.model_id,
            what,
            step.replacement_model_id or "",
            "now" if step.at <= now else "",
        )
    return table


@app.command()
def plan(at: At = None) -> None:
    """Every notice and archive still to come, in order; those due at --at marked `now`."""
    now = _moment(at)
    settings = get_settings().sunset

    async def work(db: AsyncSession) -> list[sunset.Step]:
        return await sunset.load_plan(db, settings)

    with reported_errors():
        steps = run_in_transaction(work)
    due = sunset.due(steps, now)
    console.print(_table(steps, now))
    console.print(f"{len(due)} step(s) due at {now.isoformat(timespec='minutes')}")


@app.command()
def run(at: At = None) -> None:
    """Take the steps due now (or at --at), as the scheduler would."""
    now = _moment(at)
    settings = get_settings().sunset

    async def work(db: AsyncSession) -> list[sunset.Step] | None:
        if not await events_repository.try_leadership(db, sunset.LEADER_LOCK):
            return None
        return await sunset.run_due(db, settings, now)

    with reported_errors():
        done = run_in_transaction(work)
    if done is None:
        console.print("another instance is running the sunset; nothing done")
        return
    console.print(_table(done, now))
    console.print(f"{len(done)} step(s) taken")
