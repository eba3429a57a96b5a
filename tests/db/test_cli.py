"""`modelreg db upgrade|downgrade|current|history|sql` against a real database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import migrate


def test_downgrade_that_would_lose_data_exits_non_zero_with_the_rows(
    database_at: Callable[[str], URL], use_database: Callable[[URL], None]
) -> None:
    url = database_at("head")
    use_database(url)
    runner = CliRunner()
    assert runner.invoke(app, ["seed"]).exit_code == 0
    result = runner.invoke(app, ["db", "downgrade", "0005_validate"])
    assert result.exit_code == 1
    assert "downgrade_would_lose_data" in result.stderr
    # Seeding is audited: going below 0007_admin would drop the audit trail. The revisions
    # above it lose nothing and are undone; 0007_admin itself refuses and stays.
    assert "audit_events" in result.stderr
    assert migrate.current_revision(url) == "0007_admin"


def test_upgrade_current_downgrade_walk_the_revisions(
    database_at: Callable[[str | None], URL], use_database: Callable[[URL], None]
) -> None:
    url = database_at(None)
    use_database(url)
    runner = CliRunner()
    assert "none" in runner.invoke(app, ["db", "current"]).stdout

    result = runner.invoke(app, ["db", "upgrade", "0003_backfill"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["db", "current"]).stdout.strip() == "0003_backfill"

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert migrate.current_revision(url) == migrate.head_revision()

    result = runner.invoke(app, ["db", "downgrade", "0001_baseline"])
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(url) == "0001_baseline"


def test_history_lists_the_readable_revision_ids_in_order() -> None:
    result = CliRunner().invoke(app, ["db", "history"])
    assert result.exit_code == 0
    ids = [
        "0001_baseline",
        "0002_expand",
        "0003_backfill",
        "0004_indexes",
        "0005_validate",
        "0006_contract",
        "0007_admin",
        "0008_tier_statistics",
    ]
    positions = [result.stdout.index(i) for i in ids]
    assert positions == sorted(positions)


def test_upgrade_sql_prints_the_offline_script_without_a_database() -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--sql"])
    assert result.exit_code == 0
    assert "CREATE TABLE models" in result.stdout
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_models_meta_gin" in result.stdout
    assert "UPDATE alembic_version SET version_num='0008_tier_statistics'" in result.stdout
    assert "CREATE STATISTICS IF NOT EXISTS models_meta_tier_rule" in result.stdout
