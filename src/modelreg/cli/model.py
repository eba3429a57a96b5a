"""`modelreg model ...`: the catalog from the command line, through the same service layer as
the API (validated and audited, the actor being `cli:<user>`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.catalog import service
from modelreg.catalog import transitions as lifecycle
from modelreg.catalog.models import Model
from modelreg.catalog.schemas import ModelCreate, admin_view
from modelreg.cli.common import console, reported_errors
from modelreg.cli.runner import cli_actor, run_in_transaction
from modelreg.db import jsonb
from modelreg.exceptions import ValidationFailed, error_path
from modelreg.lifecycle.states import LifecycleAction
from modelreg.listing import ListParams, check_states

app = typer.Typer(help="List, show and change models.", no_args_is_help=True)

Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the audit log).")]
IfVersion = Annotated[
    int | None, typer.Option("--if-version", help="Refuse unless the model is at this version.")
]


def _echo_model(model: Model) -> None:
    typer.echo(jsonb.dumps(admin_view(model)))


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise ValidationFailed(
            [{"path": "--file", "message": f"cannot read {source}: {exc}"}]
        ) from None
    try:
        return jsonb.loads(text)
    except ValueError as exc:
        raise ValidationFailed([{"path": "$", "message": f"not JSON: {exc}"}]) from None


@app.command("list")
def list_(
    state: Annotated[list[str], typer.Option(help="active, legacy, archived")] = [],  # noqa: B006
    provider: str | None = None,
    output_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Models in every state (filter with --state/--provider)."""

    async def work(db: AsyncSession) -> list[Model]:
        params = ListParams(states=check_states(state), provider=provider, limit=500)
        models, _ = await service.list_models_page(db, params)
        return list(models)

    with reported_errors():
        models = run_in_transaction(work)
    if output_json:
        typer.echo(jsonb.dumps([admin_view(m) for m in models]))
        return
    table = Table("id", "provider", "state", "available", "credits/1k", "version")
    for m in models:
        table.add_row(
            m.id,
            m.provider,
            admin_view(m)["state"],
            "yes" if m.is_available else "no",
            str(m.meta["creditsPer1kTokens"]),
            str(m.version),
        )
    console.print(table)


@app.command()
def show(model_id: str) -> None:
    """One model as JSON."""

    async def work(db: AsyncSession) -> Model:
        return await service.get_model(db, model_id)

    with reported_errors():
        _echo_model(run_in_transaction(work))


@app.command()
def create(
    file: Annotated[str, typer.Option("--file", "-f", help="JSON file ('-' for stdin).")],
) -> None:
    """Create a model from {id, name, provider, is_available?, meta, reason?}."""
    with reported_errors():
        raw = _read_json(file)
        try:
            data = ModelCreate.model_validate(raw)
        except ValidationError as exc:
            raise ValidationFailed(
                [{"path": error_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
            ) from None

        async def work(db: AsyncSession) -> Model:
            return await service.create_model(db, data, cli_actor())

        _echo_model(run_in_transaction(work))


@app.command()
def patch(
    model_id: str,
    file: Annotated[str, typer.Option("--file", "-f", help="Merge patch JSON ('-': stdin).")],
    reason: Annotated[str | None, typer.Option("--reason", "-r")] = None,
    if_version: IfVersion = None,
) -> None:
    """Apply an RFC 7396 JSON Merge Patch over name, provider, is_available and meta."""
    with reported_errors():
        body = _read_json(file)

        async def work(db: AsyncSession) -> Model:
            return await service.patch_model(
                db, model_id, body, cli_actor(), if_match=if_version, reason=reason
            )

        _echo_model(run_in_transaction(work))


def _transition(
    model_id: str, action: LifecycleAction, reason: str, if_version: int | None, **extra: Any
) -> None:
    async def work(db: AsyncSession) -> Model:
        return await lifecycle.transition(
            db, model_id, action, cli_actor(), reason=reason, if_match=if_version, **extra
        )

    with reported_errors():
        _echo_model(run_in_transaction(work))


@app.command("mark-legacy")
def mark_legacy(
    model_id: str,
    reason: Reason,
    replacement: Annotated[str | None, typer.Option(help="Model to use instead.")] = None,
    notice: Annotated[str | None, typer.Option(help="Deprecation notice.")] = None,
    sunset: Annotated[str | None, typer.Option(help="ISO-8601 date or datetime.")] = None,
    if_version: IfVersion = None,
) -> None:
    """active -> legacy."""
    _transition(
        model_id,
        LifecycleAction.MARK_LEGACY,
        reason,
        if_version,
        replacement_model_id=replacement,
        deprecation_notice=notice,
        sunset_date=sunset,
    )


@app.command("unmark-legacy")
def unmark_legacy(model_id: str, reason: Reason, if_version: IfVersion = None) -> None:
    """legacy -> active."""
    _transition(model_id, LifecycleAction.UNMARK_LEGACY, reason, if_version)


@app.command()
def archive(
    model_id: str,
    reason: Reason,
    force: Annotated[bool, typer.Option(help="Even if other models name it as replacement.")] = (
        False
    ),
    if_version: IfVersion = None,
) -> None:
    """active | legacy -> archived."""
    _transition(model_id, LifecycleAction.ARCHIVE, reason, if_version, force=force)


@app.command()
def unarchive(model_id: str, reason: Reason, if_version: IfVersion = None) -> None:
    """archived -> legacy (if it was) or active."""
    _transition(model_id, LifecycleAction.UNARCHIVE, reason, if_version)


@app.command()
def history(model_id: str) -> None:
    """Every version of a model: who, when, what, why."""

    async def work(db: AsyncSession) -> list[dict[str, Any]]:
        await service.get_model(db, model_id)
        return [
            {
                "version": v.version,
                "at": v.created_at.isoformat(timespec="seconds"),
                "actor": v.actor,
                "action": v.action,
                "reason": v.reason or "",
                "changed": ", ".join(str(d["path"]) for d in v.diff),
            }
            for v in await audit_repository.versions(db, model_id)
        ]

    with reported_errors():
        rows = run_in_transaction(work)
    table = Table("version", "at", "actor", "action", "reason", "changed")
    for row in rows:
        table.add_row(
            *(str(row[k]) for k in ("version", "at", "actor", "action", "reason", "changed"))
        )
    console.print(table)


@app.command()
def revert(
    model_id: str,
    to_version: Annotated[int, typer.Option("--to-version", min=1)],
    reason: Reason,
    if_version: IfVersion = None,
) -> None:
    """Make a past version current again (as a new version)."""

    async def work(db: AsyncSession) -> Model:
        return await service.revert_model(
            db, model_id, to_version, cli_actor(), if_match=if_version, reason=reason
        )

    with reported_errors():
        _echo_model(run_in_transaction(work))
