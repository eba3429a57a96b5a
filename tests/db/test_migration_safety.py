"""Downgrades that would lose data refuse and change nothing; index builds recover; every
revision bounds its lock waits; the offline SQL passes the migration linter."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.db import jsonb, migrate
from modelreg.db.exceptions import DowngradeWouldLoseData
from modelreg.db.indexes import INDEXES
from tests.db.legacy import insert_rows
from tests.db.test_sync_trigger import NEW_META, OLD

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (str(r[0]), str(r[1]))
            for r in conn.execute(text("SELECT id, to_jsonb(models)::text FROM models ORDER BY id"))
        ]


def _contracted_with_meta(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine], **changes: object
) -> tuple[URL, Engine]:
    url = database_at("0006_contract")
    engine = engine_for(url)
    meta = {**NEW_META, "capabilities": ["text"], **changes}
    with engine.begin() as conn:
        for model_id in ("fine", "odd"):
            conn.execute(
                text(
                    "INSERT INTO models (id, name, provider, meta)"
                    " VALUES (:id, :id, 'openai', CAST(:meta AS jsonb))"
                ),
                {"id": model_id, "meta": jsonb.dumps(meta if model_id == "odd" else NEW_META)},
            )
    return url, engine


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ({"inputCostUsdPerMillionTokens": jsonb.loads("0.075")}, "inputCostUsdPerMillionTokens"),
        ({"creditsPer1kTokens": jsonb.loads("2.5")}, "creditsPer1kTokens"),
        ({"capabilities": ["reasoning"]}, "model_capability"),
        ({"requiredTier": "diamond"}, "subscription_tier"),
    ],
)
def test_contract_downgrade_stops_on_unrepresentable_rows_and_changes_nothing(
    database_at: Callable[[str], URL],
    engine_for: Callable[[URL], Engine],
    change: dict[str, object],
    reported: str,
) -> None:
    url, engine = _contracted_with_meta(database_at, engine_for, **change)
    before = _snapshot(engine)
    with pytest.raises(DowngradeWouldLoseData) as raised:
        migrate.downgrade(url, "0005_validate")
    assert [model_id for model_id, _ in raised.value.rows] == ["odd"]
    assert reported in raised.value.message
    assert migrate.current_revision(url) == "0006_contract"
    assert _snapshot(engine) == before


def test_expand_downgrade_stops_when_meta_holds_what_old_columns_cannot(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0002_expand")
    engine = engine_for(url)
    with engine.begin() as conn:
        insert_rows(conn, [OLD])
        conn.execute(
            text(
                'UPDATE models SET meta = meta || \'{"complianceTags": ["soc2"]}\','
                " is_archived = true WHERE id = 'old-1'"
            )
        )
    with pytest.raises(DowngradeWouldLoseData, match="old-1") as raised:
        migrate.downgrade(url, "0001_baseline")
    assert "complianceTags" in raised.value.message
    assert "archived" in raised.value.message
    assert migrate.current_revision(url) == "0002_expand"


def test_expand_downgrade_goes_ahead_when_meta_has_only_defaults(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0002_expand")
    engine = engine_for(url)
    with engine.begin() as conn:
        insert_rows(conn, [OLD])
    migrate.downgrade(url, "0001_baseline")
    assert migrate.current_revision(url) == "0001_baseline"


def test_index_build_replaces_an_invalid_leftover(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0004_indexes")
    engine = engine_for(url)
    migrate.downgrade(url, "0003_backfill")
    with engine.begin() as conn:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
        conn.execute(text("CREATE INDEX idx_models_meta_gin ON models (id)"))
        conn.execute(
            text(
                "UPDATE pg_index SET indisvalid = false"
                " WHERE indexrelid = 'idx_models_meta_gin'::regclass"
            )
        )
    migrate.upgrade(url, "0004_indexes")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'models'::regclass"
            )
        ).all()
    found = {name: (valid, definition) for name, valid, definition in rows}
    for spec in INDEXES:
        assert found[spec.name][0] is True
    assert "USING gin (meta)" in found["idx_models_meta_gin"][1]


def test_every_revision_sets_a_lock_timeout_in_both_directions() -> None:
    up = migrate.offline_sql("base:head")
    down = migrate.offline_sql("head:base", downgrade=True)
    for sql, marker in ((up, "Running upgrade"), (down, "Running downgrade")):
        sections = re.split(rf"-- {marker} ", sql)[1:]
        assert len(sections) == len(migrate.history())
        for section in sections:
            assert re.search(r"SET (LOCAL )?lock_timeout = '\d+ms'", section), section[:80]


def test_offline_sql_passes_the_migration_linter(tmp_path: Path) -> None:
    # squawk-cli installs its binary next to the interpreter of the environment.
    squawk = str(Path(sys.executable).parent / "squawk")
    sql_file = tmp_path / "migrations.sql"
    sql_file.write_text(migrate.offline_sql("base:head"))
    result = subprocess.run(
        [squawk, "--config", str(ROOT / ".squawk.toml"), str(sql_file)],
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
