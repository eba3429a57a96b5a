"""`modelreg serve` refuses, in one line, a database that is not at the revision it needs.

(`serve --migrate`, which upgrades first, is run for real in tests/db/test_embedded.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import migrate


def _serve_refuses(runner: CliRunner) -> str:
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert "Traceback" not in result.output
    return line


@pytest.mark.parametrize(
    ("revision", "found"),
    [(None, "none (not migrated)"), ("0005_validate", "0005_validate")],
)
def test_a_database_behind_is_named_with_the_command_to_run(
    database_at: Callable[[str | None], URL],
    use_database: Callable[[URL], None],
    revision: str | None,
    found: str,
) -> None:
    use_database(database_at(revision))
    line = _serve_refuses(CliRunner())
    assert line.startswith("error (schema_not_current): ")
    assert f"the database is at revision {found}" in line
    assert f"modelreg needs {migrate.head_revision()}" in line
    assert "run `modelreg db upgrade` first" in line
    assert "modelreg serve --migrate" in line


def test_a_revision_this_modelreg_does_not_know_is_named(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = database_at("head")
    with engine_for(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0042_future'"))
    use_database(url)
    line = _serve_refuses(CliRunner())
    assert "revision 0042_future, which this modelreg does not know" in line
