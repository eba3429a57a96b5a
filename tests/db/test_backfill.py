"""0003_backfill: faithful mapping, batched, idempotent, resumable after an interruption."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.db import backfill, jsonb, migrate
from modelreg.db.legacy_sync import MIGRATED_DEPRECATION_NOTICE
from tests.db.legacy import LegacyRow, insert_rows
from tests.db.test_sync_trigger import OLD

ROWS = [replace(OLD, id=f"m-{i:03d}", is_deprecated=i % 7 == 0) for i in range(50)]


def _expanded_with(
    rows: list[LegacyRow],
    database_at: Callable[[str], URL],
    engine_for: Callable[[URL], Engine],
) -> tuple[URL, Engine]:
    url = database_at("0001_baseline")
    engine = engine_for(url)
    with engine.begin() as conn:
        insert_rows(conn, rows)
    migrate.upgrade(url, "0002_expand")
    return url, engine


def _state(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, is_legacy, is_deprecated, meta::text FROM models ORDER BY id")
        )
        return [(r[0], r[1], r[2], jsonb.loads(r[3]) if r[3] else None) for r in rows]


def test_maps_every_column_faithfully(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    row = replace(
        OLD,
        description=None,
        version=None,
        capabilities=[],
        max_output_tokens=None,
        input_cost_per_million_tokens=1,
        output_cost_per_million_tokens=2147483647,
        is_deprecated=True,
        allowed_tiers=["pro", "free"],
    )
    url, engine = _expanded_with([row], database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    [(_, is_legacy, _, meta)] = _state(engine)
    assert is_legacy is True
    assert meta == {
        "displayName": "Old One",
        "description": "",
        "version": "",
        "capabilities": [],
        "contextLength": 128000,
        "inputCostUsdPerMillionTokens": Decimal("0.01"),
        "outputCostUsdPerMillionTokens": Decimal("21474836.47"),
        "creditsPer1kTokens": 7,
        "requiredTier": "pro",
        "tierRestrictionMode": "minimum",
        "allowedTiers": ["pro", "free"],
        "legacyReplacementModelId": None,
        "deprecationNotice": MIGRATED_DEPRECATION_NOTICE,
        "sunsetDate": None,
        "providerMetadata": {},
        "internalNotes": "",
        "complianceTags": [],
    }


def test_old_writer_update_of_a_row_not_yet_backfilled_fills_its_meta(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with([OLD], database_at, engine_for)
    with engine.begin() as conn:
        conn.execute(text("UPDATE models SET display_name = 'Touched' WHERE id = 'old-1'"))
    [(_, _, _, meta)] = _state(engine)
    assert meta is not None
    assert meta["displayName"] == "Touched"


def test_interrupted_backfill_resumes_to_the_same_result(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url_a, engine_a = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url_a, "0003_backfill")
    uninterrupted = _state(engine_a)

    url_b, engine_b = _expanded_with(ROWS, database_at, engine_for)

    class Crash(Exception):
        pass

    def crash_after_two_batches(done: int, total: int) -> None:
        if done >= 20:
            raise Crash

    with (
        engine_b.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
        pytest.raises(Crash),
    ):
        backfill.run(conn, batch_size=10, progress=crash_after_two_batches)
    partial = _state(engine_b)
    assert sum(1 for *_, meta in partial if meta is not None) == 20
    assert migrate.current_revision(url_b) == "0002_expand"

    migrate.upgrade(url_b, "0003_backfill")
    assert _state(engine_b) == uninterrupted


def test_running_again_changes_nothing(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url, engine = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    before = _state(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        result = backfill.run(conn, batch_size=7)
    assert result.updated == 0
    assert result.scanned == len(ROWS)
    assert _state(engine) == before


def test_downgrade_clears_derived_meta_but_keeps_what_a_new_writer_wrote(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url, engine = _expanded_with(ROWS[:3], database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    with engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE models SET meta = meta || \'{"internalNotes": "keep me"}\''
                " WHERE id = 'm-001'"
            )
        )
    migrate.downgrade(url, "0002_expand")
    metas = {model_id: meta for model_id, _, _, meta in _state(engine)}
    assert metas["m-000"] is None
    assert metas["m-002"] is None
    assert metas["m-001"] is not None
    assert metas["m-001"]["internalNotes"] == "keep me"


def test_partial_meta_written_before_the_backfill_keeps_the_other_values(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with([OLD], database_at, engine_for)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE models SET meta = coalesce(meta, '{}') || '{\"displayName\": \"New\"}'"
                " WHERE id = 'old-1'"
            )
        )
        row = conn.execute(text("SELECT * FROM models WHERE id = 'old-1'")).one()
    assert row.display_name == "New"
    assert row.context_length == OLD.context_length
    assert row.input_cost_per_million_tokens == OLD.input_cost_per_million_tokens
    [(_, _, _, meta)] = _state(engine)
    assert meta["displayName"] == "New"
    assert meta["contextLength"] == OLD.context_length
