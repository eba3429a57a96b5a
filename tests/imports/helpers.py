"""Running `modelreg import ...` and reading the catalog back in the import tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from modelreg.cli.main import app
from modelreg.db import jsonb

DATA = Path(__file__).parent / "data"


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def plan_json(runner: CliRunner, source: str, *args: str, exit_code: int = 2) -> dict[str, Any]:
    result = invoke(runner, "import", "plan", "--source", source, "--format", "json", *args)
    assert result.exit_code == exit_code, (result.output, result.stderr, result.exception)
    plan: dict[str, Any] = jsonb.loads(result.stdout)
    return plan


def ids(plan: dict[str, Any], group: str) -> set[str]:
    return {item["id"] for item in plan[group]}


def by_id(plan: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in plan[group]}


def by_key(plan: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in plan[group]}


def model(engine: Engine, model_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, provider, is_available, is_legacy, is_archived, version,"
                " meta::text AS meta FROM models WHERE id = :id"
            ),
            {"id": model_id},
        ).one_or_none()
    if row is None:
        return None
    found = dict(row._mapping)
    found["meta"] = jsonb.loads(found["meta"])
    return found


def revision(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT revision FROM catalog_state")).scalar_one())


def events(engine: Engine, action: str | None = None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, action, model_id, reason, after::text AS after FROM audit_events"
                " WHERE (CAST(:action AS text) IS NULL OR action = :action) ORDER BY id"
            ),
            {"action": action},
        )
        return [
            {**dict(r._mapping), "after": jsonb.loads(r.after) if r.after else None} for r in rows
        ]
