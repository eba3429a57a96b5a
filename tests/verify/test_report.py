"""`modelreg db verify` passes on a good database and fails, naming the row, on a broken one."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import jsonb
from modelreg.verify.report import Report, build_report
from tests.db.test_sync_trigger import NEW_META

GOOD_META = {**NEW_META, "capabilities": ["text", "vision"]}


def _insert(engine: Engine, model_id: str, meta: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO models (id, name, provider, meta)"
                " VALUES (:id, :id, 'openai', CAST(:meta AS jsonb))"
            ),
            {"id": model_id, "meta": jsonb.dumps(meta)},
        )


def _report(engine: Engine) -> Report:
    with engine.connect() as conn:
        return build_report(conn)


@pytest.fixture
def good(head_url: URL, engine_for: Callable[[URL], Engine]) -> Engine:
    engine = engine_for(head_url)
    _insert(engine, "good-1", GOOD_META)
    _insert(engine, "good-2", {**GOOD_META, "requiredTier": "pro"})
    return engine


def test_null_meta_fails_naming_the_row(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(database_at("0004_indexes"))
    _insert(engine, "good-1", GOOD_META)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE models DROP CONSTRAINT models_meta_not_null"))
        conn.execute(text("ALTER TABLE models DISABLE TRIGGER models_sync_legacy_columns"))
        conn.execute(
            text(
                "INSERT INTO models (id, name, display_name, provider, context_length,"
                " input_cost_per_million_tokens, output_cost_per_million_tokens,"
                " credits_per_1k_tokens) VALUES ('hollow', 'h', 'h', 'x', 1, 1, 1, 1)"
            )
        )
    report = _report(engine)
    assert report.ok is False
    assert report.null_meta == 1
    [failure] = report.failures["null_meta"]
    assert failure["id"] == "hollow"
    with engine.begin() as conn:  # the fix it prints, as printed
        conn.exec_driver_sql(failure["fix"])
    assert _report(engine).null_meta == 0


def test_missing_key_fails_naming_the_row_and_key(good: Engine) -> None:
    _insert(good, "keyless", {k: v for k, v in GOOD_META.items() if k != "requiredTier"})
    report = _report(good)
    assert report.ok is False
    assert report.missing_required == 1
    [failure] = report.failures["missing_required"]
    assert (failure["id"], failure["missing"]) == ("keyless", ["requiredTier"])
    assert failure["fix"].startswith("modelreg model patch keyless --data ")


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        ({"contextLength": 0}, "contextLength"),
        ({"displayName": None}, "displayName"),
        ({"capabilities": "text"}, "capabilities"),
        ({"creditsPer1kTokens": "9"}, "creditsPer1kTokens"),
        ({"maxOutputTokens": 10**6}, "maxOutputTokens"),
    ],
)
def test_invalid_value_fails_naming_the_row_and_field(
    good: Engine, bad: dict[str, object], path: str
) -> None:
    _insert(good, "broken", {**GOOD_META, **bad})
    report = _report(good)
    assert report.ok is False
    assert report.invalid_meta == 1
    [failure] = report.failures["invalid_meta"]
    assert failure["id"] == "broken"
    assert path in [e["path"] for e in failure["errors"]]


def test_dropped_index_fails(good: Engine) -> None:
    with good.begin() as conn:
        conn.execute(text("DROP INDEX idx_models_meta_capabilities"))
    report = _report(good)
    assert report.ok is False
    [index] = [i for i in report.indexes if i.name == "idx_models_meta_capabilities"]
    assert (index.present, index.matches) == (False, False)
    [query] = [q for q in report.queries if q.name == "by_capability"]
    assert query.uses_index is False


def test_invalid_index_fails(good: Engine) -> None:
    with good.begin() as conn:
        conn.execute(
            text(
                "UPDATE pg_index SET indisvalid = false"
                " WHERE indexrelid = 'idx_models_meta_required_tier'::regclass"
            )
        )
    report = _report(good)
    assert report.ok is False
    [index] = [i for i in report.indexes if i.name == "idx_models_meta_required_tier"]
    assert (index.present, index.valid) == (True, False)


def test_index_with_another_definition_fails(good: Engine) -> None:
    with good.begin() as conn:
        conn.execute(text("DROP INDEX idx_models_meta_credits_per_1k"))
        conn.execute(
            text(
                "CREATE INDEX idx_models_meta_credits_per_1k"
                " ON models (((meta->>'creditsPer1kTokens')::integer))"
            )
        )
    report = _report(good)
    [index] = [i for i in report.indexes if i.name == "idx_models_meta_credits_per_1k"]
    assert index.present is True
    assert index.matches is False
    assert report.ok is False


def test_good_database_passes_every_check(good: Engine) -> None:
    report = _report(good)
    assert report.problems == []
    assert report.total_models == 2
    assert all(i.present and i.valid and i.matches for i in report.indexes)
    assert len(report.indexes) == 7
    assert [q.name for q in report.queries if not q.uses_index] == []
    assert len(report.queries) == 5
    assert report.ok is True


def test_database_before_expand_is_reported_not_crashed(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    report = _report(engine_for(database_at("0001_baseline")))
    assert report.ok is False
    assert report.revision == "0001_baseline"
    assert "no meta column" in report.problems[0]


def test_cli_json_report_and_exit_code(
    good: Engine, head_url: URL, use_database: Callable[[URL], None]
) -> None:
    use_database(good.url)
    result = CliRunner().invoke(app, ["db", "verify", "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    for key in (
        "ok",
        "revision",
        "total_models",
        "null_meta",
        "missing_required",
        "invalid_meta",
        "legacy",
        "archived",
        "indexes",
        "queries",
    ):
        assert key in body
    assert body["ok"] is True
    assert set(body["indexes"][0]) >= {
        "name",
        "present",
        "valid",
        "definition",
        "expected",
        "matches",
        "scans",
    }
    assert set(body["queries"][0]) >= {
        "name",
        "sql",
        "expected_index",
        "uses_index",
        "plan",
        "settings",
    }
    assert all(isinstance(i["scans"], int) for i in body["indexes"])

    _insert(good, "broken", {**GOOD_META, "contextLength": 0})
    failed = CliRunner().invoke(app, ["db", "verify"])
    assert failed.exit_code == 1
    assert "broken" in failed.stdout
    assert "FAILED" in failed.stdout
