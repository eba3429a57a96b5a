"""While both shapes exist (0002..0005), old and new writers never lose each other's data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from modelreg.db import jsonb
from modelreg.db.legacy_sync import MIGRATED_DEPRECATION_NOTICE
from tests.db.legacy import LegacyRow, insert_rows

OLD = LegacyRow(
    id="old-1",
    name="Old One",
    display_name="Old One",
    provider="openai",
    description=None,
    capabilities=["text", "vision"],
    context_length=128000,
    max_output_tokens=None,
    input_cost_per_million_tokens=250,
    output_cost_per_million_tokens=1000,
    credits_per_1k_tokens=7,
    is_available=True,
    is_deprecated=False,
    version=None,
    required_tier="pro",
    tier_restriction_mode="minimum",
    allowed_tiers=[],
)

NEW_META: dict[str, Any] = {
    "displayName": "New One",
    "description": "written by the new application",
    "version": "2026-01",
    "capabilities": ["code"],
    "contextLength": 200000,
    "maxOutputTokens": 8192,
    "inputCostUsdPerMillionTokens": Decimal("3"),
    "outputCostUsdPerMillionTokens": Decimal("15.5"),
    "creditsPer1kTokens": 9,
    "requiredTier": "enterprise_pro",
    "tierRestrictionMode": "whitelist",
    "allowedTiers": ["enterprise_pro", "perpetual"],
    "legacyReplacementModelId": None,
    "deprecationNotice": None,
    "sunsetDate": None,
    "providerMetadata": {"region": "eu"},
    "internalNotes": "only the new shape has this",
    "complianceTags": ["gdpr"],
}


@pytest.fixture(params=["0002_expand", "0003_backfill", "0004_indexes", "0005_validate"])
def conn(
    request: pytest.FixtureRequest,
    database_at: Callable[[str], URL],
    engine_for: Callable[[URL], Engine],
) -> Iterator[Connection]:
    engine = engine_for(database_at(request.param))
    with engine.connect() as connection, connection.begin():
        yield connection


def _meta(conn: Connection, model_id: str) -> dict[str, Any]:
    raw = conn.execute(text("SELECT meta::text FROM models WHERE id = :id"), {"id": model_id})
    value: dict[str, Any] = jsonb.loads(raw.scalar_one())
    return value


def _row(conn: Connection, model_id: str) -> Any:
    return conn.execute(text("SELECT * FROM models WHERE id = :id"), {"id": model_id}).one()


def _insert_new(conn: Connection, model_id: str, meta: dict[str, Any]) -> None:
    conn.execute(
        text(
            "INSERT INTO models (id, name, provider, meta)"
            " VALUES (:id, 'New One', 'anthropic', CAST(:meta AS jsonb))"
        ),
        {"id": model_id, "meta": jsonb.dumps(meta)},
    )


def test_old_writer_insert_fills_meta(conn: Connection) -> None:
    insert_rows(conn, [OLD])
    meta = _meta(conn, "old-1")
    assert meta["displayName"] == "Old One"
    assert meta["description"] == ""
    assert meta["version"] == ""
    assert meta["capabilities"] == ["text", "vision"]
    assert "maxOutputTokens" not in meta
    assert meta["inputCostUsdPerMillionTokens"] == Decimal("2.5")
    assert meta["outputCostUsdPerMillionTokens"] == 10
    assert meta["requiredTier"] == "pro"
    assert meta["providerMetadata"] == {}
    assert meta["complianceTags"] == []


def test_new_writer_insert_fills_old_columns(conn: Connection) -> None:
    _insert_new(conn, "new-1", NEW_META)
    row = _row(conn, "new-1")
    assert row.display_name == "New One"
    assert row.description == "written by the new application"
    assert row.capabilities == "{code}"
    assert row.context_length == 200000
    assert row.max_output_tokens == 8192
    assert row.input_cost_per_million_tokens == 300
    assert row.output_cost_per_million_tokens == 1550
    assert row.credits_per_1k_tokens == 9
    assert row.required_tier == "enterprise_pro"
    assert row.allowed_tiers == "{enterprise_pro,perpetual}"
    assert _meta(conn, "new-1") == NEW_META


def test_old_writer_update_keeps_keys_only_meta_has(conn: Connection) -> None:
    _insert_new(conn, "new-1", NEW_META)
    conn.execute(
        text(
            "UPDATE models SET input_cost_per_million_tokens = 275, display_name = 'Renamed'"
            " WHERE id = 'new-1'"
        )
    )
    meta = _meta(conn, "new-1")
    assert meta["inputCostUsdPerMillionTokens"] == Decimal("2.75")
    assert meta["displayName"] == "Renamed"
    assert meta["internalNotes"] == "only the new shape has this"
    assert meta["providerMetadata"] == {"region": "eu"}
    assert meta["complianceTags"] == ["gdpr"]


def test_new_writer_update_changes_only_the_columns_it_changed(conn: Connection) -> None:
    insert_rows(conn, [OLD])
    conn.execute(
        text(
            "UPDATE models SET meta = meta"
            ' || \'{"contextLength": 64000, "maxOutputTokens": 4096}\''
            " WHERE id = 'old-1'"
        )
    )
    row = _row(conn, "old-1")
    assert row.context_length == 64000
    assert row.max_output_tokens == 4096
    # "" in meta means the same as the NULL the old writer stored: the column keeps its NULL.
    assert row.description is None
    assert row.version is None


def test_new_writer_removing_max_output_tokens_clears_the_column(conn: Connection) -> None:
    _insert_new(conn, "new-1", NEW_META)
    conn.execute(text("UPDATE models SET meta = meta - 'maxOutputTokens' WHERE id = 'new-1'"))
    assert _row(conn, "new-1").max_output_tokens is None


def test_is_deprecated_and_is_legacy_follow_each_other(conn: Connection) -> None:
    insert_rows(conn, [OLD])
    conn.execute(text("UPDATE models SET is_deprecated = true WHERE id = 'old-1'"))
    row = _row(conn, "old-1")
    assert row.is_legacy is True
    assert _meta(conn, "old-1")["deprecationNotice"] == MIGRATED_DEPRECATION_NOTICE

    conn.execute(text("UPDATE models SET is_legacy = false WHERE id = 'old-1'"))
    assert _row(conn, "old-1").is_deprecated is False

    conn.execute(text("UPDATE models SET is_legacy = true WHERE id = 'old-1'"))
    assert _row(conn, "old-1").is_deprecated is True


def test_old_writer_deprecating_keeps_a_notice_the_new_writer_wrote(conn: Connection) -> None:
    meta = {**NEW_META, "deprecationNotice": "Use new-2 instead."}
    _insert_new(conn, "new-1", meta)
    conn.execute(text("UPDATE models SET is_deprecated = true WHERE id = 'new-1'"))
    assert _meta(conn, "new-1")["deprecationNotice"] == "Use new-2 instead."


def test_sub_cent_price_is_refused_while_old_columns_exist(conn: Connection) -> None:
    meta = {**NEW_META, "inputCostUsdPerMillionTokens": Decimal("0.075")}
    with pytest.raises(DBAPIError, match=r"inputCostUsdPerMillionTokens = 0\.075"):
        _insert_new(conn, "new-1", meta)


def test_fractional_credits_are_refused_while_old_columns_exist(conn: Connection) -> None:
    meta = {**NEW_META, "creditsPer1kTokens": Decimal("0.5")}
    with pytest.raises(DBAPIError, match=r"creditsPer1kTokens = 0\.5"):
        _insert_new(conn, "new-1", meta)


def test_capability_outside_the_old_enum_is_refused(conn: Connection) -> None:
    meta = {**NEW_META, "capabilities": ["reasoning"]}
    with pytest.raises(DBAPIError, match="model_capability"):
        _insert_new(conn, "new-1", meta)


def test_old_writer_clearing_max_output_tokens_drops_the_key(conn: Connection) -> None:
    insert_rows(conn, [replace(OLD, max_output_tokens=4096)])
    assert _meta(conn, "old-1")["maxOutputTokens"] == 4096
    conn.execute(text("UPDATE models SET max_output_tokens = NULL WHERE id = 'old-1'"))
    assert "maxOutputTokens" not in _meta(conn, "old-1")
