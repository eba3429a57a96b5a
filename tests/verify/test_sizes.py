"""`db verify` gives the same answer whatever the table's size and statistics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.db.engine import sync_engine
from modelreg.verify.report import build_report

# Models like a real catalog's: nearly all served, a few legacy, archived or unavailable, a
# whitelist or two, every tier and a spread of credits.
INSERT_MODELS = text(
    """
    INSERT INTO models (id, name, provider, is_available, is_legacy, is_archived, meta)
    SELECT 'model-' || lpad(i::text, 5, '0'), 'Model ' || i,
           (ARRAY['openai', 'anthropic', 'google', 'mistral'])[1 + i % 4],
           i % 11 <> 0, i % 7 = 0, i % 13 = 0,
           jsonb_build_object(
               'displayName', 'Model ' || i,
               'capabilities', CASE WHEN i % 3 = 0 THEN '["text", "vision"]'::jsonb
                                    ELSE '["text"]'::jsonb END,
               'contextLength', 8192 * (1 + i % 16),
               'inputCostUsdPerMillionTokens', (i % 40) + 0.5,
               'outputCostUsdPerMillionTokens', (i % 40) * 4 + 2,
               'creditsPer1kTokens', (i % 40) * 2.5 + 1.25,
               'requiredTier',
                   (ARRAY['free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max',
                          'perpetual'])[1 + i % 6],
               'tierRestrictionMode', CASE WHEN i % 9 = 0 THEN 'whitelist' ELSE 'minimum' END,
               'allowedTiers', CASE WHEN i % 9 = 0 THEN '["pro", "pro_max"]'::jsonb
                                    ELSE '[]'::jsonb END)
    FROM generate_series(1, :n) AS i
    """
)


@pytest.mark.parametrize("size", [0, 1, 17, 24, 10_000])
def test_verify_passes_at_every_size_after_analyze(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine], size: int
) -> None:
    engine = engine_for(database_at("head"))
    with engine.begin() as conn:
        conn.execute(INSERT_MODELS, {"n": size})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE models"))
    with engine.connect() as conn:
        report = build_report(conn)
    assert report.total_models == size
    assert [(q.name, q.plan) for q in report.queries if not q.uses_index] == []
    assert report.ok is True


def test_a_served_catalog_of_seventeen_models_passes(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    # Every model served and none archived: the planner's cheapest plan for the pair's query
    # is a bitmap scan of idx_models_is_archived, which says nothing about the pair's index.
    engine = engine_for(database_at("head"))
    with engine.begin() as conn:
        conn.execute(INSERT_MODELS, {"n": 17})
        conn.execute(text("UPDATE models SET is_available = true, is_archived = false"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE models"))
    with engine.connect() as conn:
        report = build_report(conn)
    assert [(q.name, q.plan) for q in report.queries if not q.uses_index] == []
    assert report.ok is True


@pytest.mark.parametrize("size", [0, 24, 10_000])
def test_an_index_on_another_expression_fails_at_every_size(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine], size: int
) -> None:
    engine = engine_for(database_at("head"))
    with engine.begin() as conn:
        conn.execute(INSERT_MODELS, {"n": size})
        conn.execute(text("DROP INDEX idx_models_meta_required_tier"))
        conn.execute(
            text("CREATE INDEX idx_models_meta_required_tier ON models ((meta->>'required_tier'))")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE models"))
    with engine.connect() as conn:
        report = build_report(conn)
    [query] = [q for q in report.queries if q.name == "by_required_tier"]
    assert query.uses_index is False
    assert report.ok is False
    assert [q.name for q in report.queries if not q.uses_index] == ["by_required_tier"]


def test_read_only_connection_plans_on_the_table_itself(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    # A hot standby refuses temporary tables, like a read-only transaction does.
    url = database_at("head")
    with engine_for(url).begin() as conn:
        conn.execute(INSERT_MODELS, {"n": 24})
    read_only = sync_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    try:
        with read_only.connect() as conn:
            report = build_report(conn)
    finally:
        read_only.dispose()
    assert all(q.settings.startswith("on models; enable_seqscan = off") for q in report.queries)
    assert [q.name for q in report.queries if not q.uses_index] == []
