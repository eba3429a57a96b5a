"""`modelreg webhook ...`: webhook subscriptions (the secret is printed once, at creation)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.cli.common import console, err_console, reported_errors
from modelreg.cli.runner import cli_actor, run_in_transaction
from modelreg.events import service
from modelreg.events.models import WebhookAttempt, WebhookSubscription
from modelreg.events.schemas import WebhookCreate, WebhookPatch, status_of
from modelreg.events.types import EventType

app = typer.Typer(help="Webhook subscriptions to catalog events.", no_args_is_help=True)

Events = Annotated[
    list[EventType],
    typer.Option("--event", "-e", help="An event type (repeat the option for several)."),
]


@app.command()
def create(
    url: Annotated[str, typer.Option("--url", help="Where events are POSTed.")],
    events: Events,
    secret: Annotated[
        str | None, typer.Option("--secret", help="whsec_...; generated when not given.")
    ] = None,
) -> None:
    """Subscribe a URL and print its id and signing secret (once: it is not shown again)."""

    async def work(db: AsyncSession) -> WebhookSubscription:
        body = WebhookCreate(url=url, events=events, secret=secret)
        return await service.create_subscription(db, body, cli_actor())

    with reported_errors():
        subscription = run_in_transaction(work)
    err_console.print(f"webhook {subscription.id} -> {subscription.url}; its signing secret:")
    typer.echo(subscription.secret)


@app.command("list")
def list_() -> None:
    """Every subscription and its delivery state (never the secret)."""

    async def work(db: AsyncSession) -> list[WebhookSubscription]:
        return list(await service.list_subscriptions(db))

    with reported_errors():
        subscriptions = run_in_transaction(work)
    table = Table("id", "url", "events", "status", "at revision", "last error")
    for s in subscriptions:
        table.add_row(
            s.id,
            s.url,
            ", ".join(str(e) for e in s.event_types),
            status_of(s),
            str(s.cursor_revision),
            s.last_error or "",
        )
    console.print(table)


@app.command()
def update(
    webhook_id: str,
    url: Annotated[str | None, typer.Option("--url")] = None,
    events: Annotated[list[EventType] | None, typer.Option("--event", "-e")] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--paused", help="--active also clears a failing state."),
    ] = None,
) -> None:
    """Change a subscription's URL, event types, or pause / resume it."""

    async def work(db: AsyncSession) -> WebhookSubscription:
        patch = WebhookPatch(url=url, events=events or None, active=active)
        return await service.patch_subscription(db, webhook_id, patch, cli_actor())

    with reported_errors():
        subscription = run_in_transaction(work)
    console.print(f"webhook {subscription.id}: {status_of(subscription)}")


@app.command()
def delete(webhook_id: str) -> None:
    """Remove a subscription and its attempt log."""

    async def work(db: AsyncSession) -> None:
        await service.delete_subscription(db, webhook_id, cli_actor())

    with reported_errors():
        run_in_transaction(work)
    console.print(f"deleted {webhook_id}")


@app.command()
def replay(
    webhook_id: str,
    since: Annotated[int, typer.Option("--since", min=1, help="The first revision to resend.")],
) -> None:
    """Send the events of revision SINCE and later again."""

    async def work(db: AsyncSession) -> WebhookSubscription:
        return await service.replay(db, webhook_id, since, cli_actor())

    with reported_errors():
        run_in_transaction(work)
    console.print(f"webhook {webhook_id} replays from revision {since}")


@app.command()
def attempts(
    webhook_id: str, limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50
) -> None:
    """The latest delivery attempts: status, latency, response code."""

    async def work(db: AsyncSession) -> list[WebhookAttempt]:
        return list(await service.attempts(db, webhook_id, after_id=None, limit=100_000))

    with reported_errors():
        found = run_in_transaction(work)[-limit:]
    table = Table("at", "message", "revision", "status", "code", "ms", "error")
    for a in found:
        table.add_row(
            a.attempted_at.isoformat(timespec="seconds"),
            a.message_id,
            str(a.catalog_revision),
            a.status,
            "" if a.response_code is None else str(a.response_code),
            f"{a.latency_ms:.1f}",
            a.error or "",
        )
    console.print(table)
