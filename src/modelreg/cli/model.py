"""`modelreg model ...`: the catalog from the command line, through the same service layer as
the API (validated and audited, the actor being `cli:<user>`)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.catalog import prices as price_service
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

PAGE_SIZE = 500  # the admin list's largest page

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
    return _parse_json(text)


def _parse_json(text: str) -> Any:
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
    """Every model, in every state (filter with --state/--provider)."""

    async def work(db: AsyncSession) -> list[Model]:
        # Page after page (the admin list's largest page) until there is no next one.
        models: list[Model] = []
        after: str | None = None
        while True:
            params = ListParams(
                states=check_states(state), provider=provider, limit=PAGE_SIZE, after=after
            )
            page, after = await service.list_models_page(db, params)
            models.extend(page)
            if after is None:
                return models

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
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Merge patch JSON file ('-': stdin).")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="The merge patch itself, as JSON.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r")] = None,
    if_version: IfVersion = None,
) -> None:
    """Apply an RFC 7396 JSON Merge Patch over name, provider, is_available and meta.

    The model's current meta need not be valid (a row `modelreg db verify` reports): the
    patched result must be."""
    with reported_errors():
        if (file is None) == (data is None):
            raise ValidationFailed(
                [{"path": "--file/--data", "message": "give the patch with one of them"}]
            )
        body = _read_json(file) if file is not None else _parse_json(data or "")

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


@app.command()
def prices(
    model_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per entry.")] = False,
) -> None:
    """A model's price history, scheduled changes included: when each applies, its status
    (scheduled, current, past, cancelled), its prices and credits, who recorded it."""

    async def work(db: AsyncSession) -> list[dict[str, Any]]:
        return await price_service.price_history(db, model_id)

    with reported_errors():
        entries = run_in_transaction(work)
    if as_json:
        for entry in entries:
            typer.echo(jsonb.dumps(entry))
        return
    table = Table(caption="UTC; the reasons and every field: --json")
    for column in ("id", "from", "status", "input $/M", "output $/M", "credits/1k"):
        table.add_column(column, no_wrap=True)
    table.add_column("by")
    for e in entries:
        moment = datetime.fromisoformat(str(e["effectiveFrom"])).astimezone(UTC)
        table.add_row(
            str(e["id"]),
            moment.strftime("%Y-%m-%d %H:%M"),
            str(e["status"]),
            str(e["inputCostUsdPerMillionTokens"]),
            str(e["outputCostUsdPerMillionTokens"]),
            str(e["creditsPer1kTokens"]),
            str(e["recordedBy"]),
        )
    console.print(table)


@app.command("schedule-price")
def schedule_price(
    model_id: str,
    effective_from: Annotated[
        str,
        typer.Option(
            "--from", help="When the prices apply: ISO 8601, UTC unless it names an offset."
        ),
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            "-d",
            help='The prices, as JSON: e.g. {"inputCostUsdPerMillionTokens": 2.5}. Fields not '
            "given keep the values in force just before; credits are computed unless given.",
        ),
    ],
    reason: Annotated[str | None, typer.Option("--reason", "-r")] = None,
) -> None:
    """Schedule a price change for a moment to come (today's prices change with `patch`)."""
    with reported_errors():
        body = _parse_json(data)
        if not isinstance(body, dict):
            raise ValidationFailed([{"path": "--data", "message": "must be a JSON object"}])
        for key in ("effectiveFrom", "reason"):
            if key in body:
                raise ValidationFailed(
                    [{"path": f"--data.{key}", "message": "give it as its own option"}]
                )
        body = {**body, "effectiveFrom": effective_from}
        if reason is not None:
            body["reason"] = reason

        async def work(db: AsyncSession) -> dict[str, Any]:
            return await price_service.schedule_price(db, model_id, body, cli_actor())

        try:
            entry = run_in_transaction(work)
        except ValidationFailed as exc:  # named as this command's options name them
            errors = [{**e, "path": _option(str(e["path"]))} for e in exc.errors]
            raise ValidationFailed(errors) from None
        typer.echo(jsonb.dumps(entry))


def _option(path: str) -> str:
    if path == "effectiveFrom":
        return "--from"
    if path == "reason":
        return "--reason"
    return "--data" if path == "$" else f"--data.{path}"


@app.command("cancel-price")
def cancel_price(
    model_id: str,
    price_id: int,
    reason: Annotated[str | None, typer.Option("--reason", "-r")] = None,
) -> None:
    """Withdraw a scheduled price change before it takes effect (it stays in the history)."""

    async def work(db: AsyncSession) -> dict[str, Any]:
        return await price_service.cancel_price(db, model_id, price_id, cli_actor(), reason=reason)

    with reported_errors():
        typer.echo(jsonb.dumps(run_in_transaction(work)))
