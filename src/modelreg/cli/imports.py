"""`modelreg import plan|apply`: read an upstream list (LiteLLM, OpenRouter, models.dev), see
what it would change (exit 0: nothing, 2: changes), then apply exactly that plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.cli.common import console, reported_errors
from modelreg.cli.runner import run_in_transaction
from modelreg.db import jsonb
from modelreg.exceptions import ValidationFailed
from modelreg.imports import service
from modelreg.imports.plan import ACTIONS, has_changes
from modelreg.imports.sources import SourceName, read_bytes

app = typer.Typer(help="Plan and apply imports from upstream model lists.", no_args_is_help=True)

EXIT_CHANGES = 2


def _read_id_map(path: str | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        document = jsonb.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValidationFailed([{"path": "--id-map", "message": str(exc)}]) from None
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        raise ValidationFailed(
            [{"path": "--id-map", "message": 'must be a JSON object {"source key": "model id"}'}]
        )
    return document


def _cell(value: Any) -> str:
    return escape(
        "" if value is None else jsonb.dumps(value) if not isinstance(value, str) else value
    )


def print_plan(plan: dict[str, Any]) -> None:
    summary = ", ".join(f"{n} {group}" for group, n in plan["summary"].items())
    console.print(f"plan from {plan['source']} at catalog revision {plan['revision']}: {summary}")
    if plan["add"]:
        table = Table("add", "key", "provider", "context", "in $/M", "out $/M", title="add")
        for item in plan["add"]:
            meta = item["meta"]
            table.add_row(
                escape(item["id"]),
                escape(item["key"]),
                escape(item["provider"]),
                _cell(meta.get("contextLength")),
                _cell(meta.get("inputCostUsdPerMillionTokens")),
                _cell(meta.get("outputCostUsdPerMillionTokens")),
            )
        console.print(table)
    if plan["change"]:
        table = Table("change", "field", "before", "after", "%", title="change")
        for item in plan["change"]:
            for diff in item["fields"]:
                table.add_row(
                    escape(item["id"]),
                    escape(diff["field"]),
                    _cell(diff["before"]),
                    _cell(diff["after"]),
                    _cell(diff.get("change_pct", "")) if "change_pct" in diff else "",
                )
        console.print(table)
    for group, columns in (
        ("deprecate", ("sunsetDate", "replacement", "notice")),
        ("vanished", ("key", "notice")),
        ("kept", ("field", "current", "upstream", "why")),
        ("skipped", ("key", "mode", "reason")),
        ("unmappable", ("key", "reason")),
    ):
        if not plan[group]:
            continue
        table = Table(group, *columns, title=group)
        for item in plan[group]:
            table.add_row(_cell(item.get("id")), *(_cell(item.get(c)) for c in columns))
        console.print(table)


@app.command("plan")
def plan_(
    source: Annotated[SourceName, typer.Option(help="The format of the list.")],
    file: Annotated[str | None, typer.Option(help="Read the list from this file.")] = None,
    url: Annotated[str | None, typer.Option(help="Fetch the list from this URL.")] = None,
    provider: Annotated[
        list[str], typer.Option(help="Only entries of this provider (repeatable).")
    ] = [],  # noqa: B006
    only: Annotated[list[str], typer.Option(help="Only this model id (repeatable).")] = [],  # noqa: B006
    id_map: Annotated[
        str | None, typer.Option(help='A JSON file {"source key": "model id"}.')
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    out: Annotated[str | None, typer.Option(help="Write the plan (JSON) to this file.")] = None,
) -> None:
    """What importing the list would change (a dry run). Exit 0: nothing to do; 2: changes."""
    if output_format not in ("table", "json"):
        raise typer.BadParameter("table or json", param_hint="--format")
    with reported_errors():
        body = read_bytes(file=file, url=url)
        mapping = _read_id_map(id_map)

        async def work(db: AsyncSession) -> dict[str, Any]:
            return await service.plan(
                db,
                source,
                body,
                id_map=mapping,
                providers=provider,
                only=only,
                origin=url or (str(Path(file).resolve()) if file else None),
            )

        plan = run_in_transaction(work)
    text = jsonb.dumps(plan)
    if out is not None:
        Path(out).write_text(text + "\n")
    if output_format == "json":
        typer.echo(text)
    else:
        print_plan(plan)
    if has_changes(plan):
        raise typer.Exit(EXIT_CHANGES)


@app.command("apply")
def apply_(
    plan_file: Annotated[
        str, typer.Argument(metavar="PLAN.json", help="A plan from `plan --out`.")
    ],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (in the audit log).")],
    allow_large_changes: Annotated[
        bool, typer.Option(help="Apply price changes above the threshold, many vanished models.")
    ] = False,
) -> None:
    """Apply exactly that plan, in one transaction: all of it or nothing."""
    with reported_errors():
        try:
            document = jsonb.loads(Path(plan_file).read_text())
        except (OSError, ValueError) as exc:
            raise ValidationFailed([{"path": "PLAN.json", "message": str(exc)}]) from None

        async def work(db: AsyncSession) -> dict[str, int]:
            return await service.apply(
                db, document, reason=reason, allow_large_changes=allow_large_changes
            )

        counts = run_in_transaction(work)
    console.print("applied: " + ", ".join(f"{counts[g]} {g}" for g in ACTIONS))
