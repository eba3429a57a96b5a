"""The shipped catalog (`catalog/data/models.json`) and loading it into a database."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.catalog.meta import ModelMeta
from modelreg.catalog.seed import SchemaNotCurrent, SeedModel, seed_catalog
from modelreg.db import jsonb
from modelreg.verify.report import build_report

EXPECTED_PROVIDERS = {"openai", "anthropic", "google", "mistral", "xai", "meta"}
# One credit is worth this many US dollars (the default pricing setting).
CREDIT_USD = Decimal("0.001")


def _table(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, provider, is_available, is_legacy, is_archived,"
                " meta::text AS meta, created_at, updated_at FROM models ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


def _canonical(value: Any) -> str:
    """Exact JSON text independent of key order: numbers keep their digits as written."""

    def sort(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: sort(node[key]) for key in sorted(node)}
        if isinstance(node, list):
            return [sort(item) for item in node]
        return node

    return jsonb.dumps(sort(value))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM models")).scalar_one())


# Refused.


def test_seeding_a_database_not_at_head_raises_and_inserts_nothing(
    database_at: Callable[[str | None], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0003_backfill")
    engine = engine_for(url)
    before = _count(engine)

    with pytest.raises(SchemaNotCurrent) as caught:
        seed_catalog(url)

    assert caught.value.code == "schema_not_current"
    assert _count(engine) == before == 0


# The shipped file.


def test_catalog_ships_at_least_17_models(shipped: list[SeedModel]) -> None:
    assert len(shipped) >= 17


def test_catalog_covers_the_major_providers(shipped: list[SeedModel]) -> None:
    assert EXPECTED_PROVIDERS - {m.provider for m in shipped} == set()


def test_catalog_ids_are_unique(shipped: list[SeedModel]) -> None:
    ids = [m.id for m in shipped]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_every_legacy_model_names_an_existing_non_legacy_replacement(
    shipped: list[SeedModel],
) -> None:
    by_id = {m.id: m for m in shipped}
    legacy = [m for m in shipped if m.is_legacy]
    assert legacy, "the catalog is expected to ship at least one legacy model"
    problems = []
    for model in legacy:
        replacement = model.meta.legacy_replacement_model_id
        if replacement is None:
            problems.append(f"{model.id}: names no replacement")
        elif replacement == model.id:
            problems.append(f"{model.id}: names itself")
        elif replacement not in by_id:
            problems.append(f"{model.id}: replacement {replacement!r} is not in the catalog")
        elif by_id[replacement].is_legacy:
            problems.append(f"{model.id}: replacement {replacement!r} is itself legacy")
    assert problems == []


def test_max_output_tokens_fit_the_context_length(shipped: list[SeedModel]) -> None:
    too_long = [
        m.id
        for m in shipped
        if m.meta.max_output_tokens is not None and m.meta.max_output_tokens > m.meta.context_length
    ]
    assert too_long == []


# Seeding.


def test_seeding_a_head_database_inserts_every_shipped_model(
    head_url: URL, engine_for: Callable[[URL], Engine], shipped: list[SeedModel]
) -> None:
    inserted, total = seed_catalog(head_url)

    assert (inserted, total) == (len(shipped), len(shipped))
    assert [row["id"] for row in _table(engine_for(head_url))] == sorted(m.id for m in shipped)


def test_seeding_twice_inserts_nothing_and_leaves_rows_unchanged(
    head_url: URL, engine_for: Callable[[URL], Engine], shipped: list[SeedModel]
) -> None:
    engine = engine_for(head_url)
    seed_catalog(head_url)
    before = _table(engine)

    inserted, total = seed_catalog(head_url)

    assert (inserted, total) == (0, len(shipped))
    assert _table(engine) == before


def _expected_stored_meta(model: SeedModel) -> dict[str, Any]:
    """The shipped meta as the service layer stores it: credits follow the prices (not pinned),
    with the per-direction rates added (price per 1M tokens / 1000 / credit value)."""
    meta = model.meta.to_storage()
    meta["creditsPinned"] = False
    meta["inputCreditsPer1kTokens"] = meta["inputCostUsdPerMillionTokens"] / 1000 / CREDIT_USD
    meta["outputCreditsPer1kTokens"] = meta["outputCostUsdPerMillionTokens"] / 1000 / CREDIT_USD
    return ModelMeta.model_validate(meta).to_storage()


def test_seeded_meta_round_trips_exactly(
    head_url: URL, engine_for: Callable[[URL], Engine], shipped: list[SeedModel]
) -> None:
    seed_catalog(head_url)
    with engine_for(head_url).connect() as conn:
        stored = {
            str(row.id): jsonb.loads(row.meta)
            for row in conn.execute(text("SELECT id, meta::text AS meta FROM models"))
        }

    mismatched = []
    for model in shipped:
        expected = _canonical(_expected_stored_meta(model))
        raw = stored[model.id]
        if _canonical(raw) != expected:
            mismatched.append(f"{model.id}: stored meta differs")
        if _canonical(ModelMeta.model_validate(raw).to_storage()) != expected:
            mismatched.append(f"{model.id}: meta read back through ModelMeta differs")
    assert mismatched == []


def test_seeded_database_passes_verification(
    head_url: URL, engine_for: Callable[[URL], Engine], shipped: list[SeedModel]
) -> None:
    seed_catalog(head_url)
    with engine_for(head_url).connect() as conn:
        report = build_report(conn)

    assert report.total_models == len(shipped)
    assert report.ok, report.to_json()
