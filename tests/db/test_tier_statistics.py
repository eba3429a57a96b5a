"""0008_tier_statistics: the planner knows how a catalog's tier rules are distributed, so the
admin list's tier filter is estimated from the data, not from default guesses."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.catalog import repository
from modelreg.config import DEFAULT_TIERS

ROWS = 4000
# 70 % minimum, 20 % exact, 10 % whitelist; required tiers spread over the first three tiers.
COPY_WITH_TIER_RULES = text(
    """
    INSERT INTO models (id, name, provider, is_available, is_legacy, is_archived, meta)
    SELECT 'stats-' || g, m.name, m.provider, true, false, false,
           m.meta || jsonb_build_object(
               'tierRestrictionMode',
               CASE WHEN g % 10 < 7 THEN 'minimum'
                    WHEN g % 10 < 9 THEN 'exact'
                    ELSE 'whitelist' END,
               'requiredTier', (ARRAY['free', 'pro', 'pro_max'])[1 + g % 3])
    FROM models m, generate_series(1, :rows) AS g
    WHERE m.id = (SELECT min(id) FROM models WHERE NOT is_legacy)
    """
)


def admin_tier_query(engine: Engine) -> str:
    """The admin list's SQL for `tier=pro`, as the endpoint builds it, with literal values."""
    query = repository.admin_query(tier="pro", tiers=DEFAULT_TIERS)
    return str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def estimate_and_count(engine: Engine) -> tuple[float, int]:
    sql = admin_tier_query(engine)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar_one()
        count = conn.exec_driver_sql(f"SELECT count(*) FROM ({sql}) AS matches").scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"]), int(count)


def test_the_tier_rule_is_estimated_from_its_statistics(
    seeded_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    with engine.begin() as conn:
        conn.execute(COPY_WITH_TIER_RULES, {"rows": ROWS})
        conn.execute(text("ANALYZE models"))
        names = conn.execute(text("SELECT stxname FROM pg_statistic_ext")).scalars().all()
    assert "models_meta_tier_rule" in names

    estimated, actual = estimate_and_count(engine)
    assert actual > ROWS / 3
    assert actual / 2 <= estimated <= actual * 2, (estimated, actual)

    # Without them the planner falls back to its fixed guesses, far from the truth.
    with engine.begin() as conn:
        conn.execute(text("DROP STATISTICS models_meta_tier_rule"))
        conn.execute(text("ANALYZE models"))
    estimated, actual = estimate_and_count(engine)
    assert estimated < actual / 5, (estimated, actual)
