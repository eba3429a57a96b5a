"""From a failing `db verify` to a passing one, with the commands it prints, as printed."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import jsonb
from tests.db.prisma import WITHOUT_CAPABILITIES, create_prisma_catalog


def _verify(runner: CliRunner) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["db", "verify", "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def _adopted_prisma_catalog(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
    revision: str,
) -> tuple[CliRunner, Engine]:
    url = database_at(None)
    engine = engine_for(url)
    with engine.begin() as conn:
        create_prisma_catalog(conn)
    use_database(url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "adopt"]).exit_code == 0
    assert runner.invoke(app, ["db", "upgrade", revision]).exit_code == 0
    return runner, engine


def test_every_failing_row_comes_with_a_modelreg_command_that_fixes_it(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    runner, engine = _adopted_prisma_catalog(database_at, engine_for, use_database, "head")
    with engine.begin() as conn:
        # A few more of what legacy rows hold: an impossible output limit, a mode in
        # another case, and a meta that is not even an object.
        conn.execute(
            text(
                'UPDATE models SET meta = meta || \'{"maxOutputTokens": 300000,'
                ' "tierRestrictionMode": "Minimum"}\' WHERE id = \'gpt-4o\''
            )
        )
        conn.execute(text("UPDATE models SET meta = '[]' WHERE id = 'o1'"))
    code, report = _verify(runner)
    assert code == 1
    failing = {row["id"]: row for row in report["failures"]["invalid_meta"]}
    assert set(failing) == {*WITHOUT_CAPABILITIES, "gpt-4o", "o1"}

    markdown = runner.invoke(app, ["db", "verify"]).stdout
    for model_id, row in failing.items():
        assert f"  - fix: `{row['fix']}`" in markdown
        if model_id == "o1":  # nothing to go on: the whole meta is a placeholder
            assert row["fill_in"] is True
            continue
        assert row["fill_in"] is False
        argv = shlex.split(row["fix"])
        assert argv[:3] == ["modelreg", "model", "patch"]
        fixed = runner.invoke(app, argv[1:])
        assert fixed.exit_code == 0, fixed.output

    with engine.connect() as conn:
        meta = conn.execute(text("SELECT meta FROM models WHERE id = 'gpt-4o'")).scalar_one()
    assert "maxOutputTokens" not in meta
    assert meta["tierRestrictionMode"] == "minimum"
    assert meta["creditsPer1kTokens"] == 7  # what the old table said, not recomputed

    # The placeholder filled in: a whole meta, taken here from a sibling model.
    with engine.connect() as conn:
        sibling = conn.execute(text("SELECT meta FROM models WHERE id = 'gpt-4o'")).scalar_one()
    argv = shlex.split(failing["o1"]["fix"])
    whole = jsonb.dumps({"meta": {**sibling, "displayName": "o1"}})
    argv[argv.index("--data") + 1] = whole
    assert runner.invoke(app, argv[1:]).exit_code == 0

    code, report = _verify(runner)
    assert report["failures"]["invalid_meta"] == []
    assert code == 0


def test_before_the_admin_tables_the_fix_is_sql_the_sync_trigger_carries(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    runner, engine = _adopted_prisma_catalog(database_at, engine_for, use_database, "0005_validate")
    code, report = _verify(runner)
    assert code == 1
    fixes = [row["fix"] for row in report["failures"]["invalid_meta"]]
    assert len(fixes) == len(WITHOUT_CAPABILITIES)
    with engine.begin() as conn:
        for fix in fixes:
            assert fix.startswith("UPDATE models SET meta = ")
            conn.exec_driver_sql(fix)
        # The trigger wrote the old column too: an old reader sees the fix.
        capabilities = conn.execute(
            text("SELECT DISTINCT capabilities::text FROM models WHERE id = ANY(:ids)"),
            {"ids": list(WITHOUT_CAPABILITIES)},
        ).scalar_one()
    assert capabilities == "{text}"
    code, report = _verify(runner)
    assert code == 0, report["failures"]


def test_patch_that_leaves_an_invalid_meta_invalid_is_refused(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    runner, engine = _adopted_prisma_catalog(database_at, engine_for, use_database, "head")
    with engine.begin() as conn:
        conn.execute(text("UPDATE models SET meta = '[]' WHERE id = 'o1'"))
    result = runner.invoke(
        app, ["model", "patch", "o1", "--data", '{"meta": {"capabilities": ["text"]}}']
    )
    assert result.exit_code == 1
    assert "validation_error" in result.stderr
    assert "meta.displayName" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT meta FROM models WHERE id = 'o1'")).scalar_one() == []
