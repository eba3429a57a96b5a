"""What the console's pages compute, without a database: merge patches from the edit form,
error paths to fields, credits per tier with margins, the impact of a replacement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from modelreg.catalog.impact import replacement_impact
from modelreg.catalog.models import Model
from modelreg.catalog.service import merge_patch
from modelreg.config import Settings
from modelreg.console.views import (
    credits_per_tier,
    field_of,
    make_merge_patch,
    parse_model_form,
)
from tests.fixtures.models import base_meta


def test_the_merge_patch_turns_before_into_after() -> None:
    before: dict[str, Any] = {
        "name": "A",
        "meta": {"x": 1, "gone": True, "nested": {"keep": 1, "drop": 2}, "list": [1, 2]},
    }
    after: dict[str, Any] = {
        "name": "B",
        "meta": {"x": 1, "nested": {"keep": 1}, "list": [2], "new": "v"},
    }
    patch = make_merge_patch(before, after)
    assert patch == {
        "name": "B",
        "meta": {"gone": None, "nested": {"drop": None}, "list": [2], "new": "v"},
    }
    assert merge_patch(before, patch) == after
    assert make_merge_patch(after, after) == {}


def test_a_price_change_alone_is_the_patch() -> None:
    meta = base_meta(creditsPer1kTokens=Decimal("1.5"))
    changed = {**meta, "inputCostUsdPerMillionTokens": Decimal("3")}
    assert make_merge_patch({"meta": meta}, {"meta": changed}) == {
        "meta": {"inputCostUsdPerMillionTokens": Decimal("3")}
    }


def test_error_paths_name_form_fields() -> None:
    assert field_of("meta.contextLength") == "contextLength"
    assert field_of("meta.capabilities[0]") == "capabilities"
    assert field_of("name") == "name"
    assert field_of("meta.providerMetadata.region") == "advanced"
    assert field_of("meta.somethingUnknown") == "advanced"


def test_the_form_reports_bad_numbers_and_json_at_their_fields() -> None:
    parsed = parse_model_form(
        {
            "contextLength": "lots",
            "inputCostUsdPerMillionTokens": "1.5",
            "outputCostUsdPerMillionTokens": "x",
            "advanced": "[1]",
        },
        {},
        {},
    )
    assert set(parsed.errors) == {"contextLength", "outputCostUsdPerMillionTokens", "advanced"}
    assert parsed.meta["inputCostUsdPerMillionTokens"] == Decimal("1.5")


def test_credits_per_tier_apply_each_margin() -> None:
    settings = Settings(pricing={"tier_margins": {"free": Decimal("0.25")}})
    meta = {
        "creditsPer1kTokens": Decimal("4"),
        "inputCreditsPer1kTokens": Decimal("2"),
        "outputCreditsPer1kTokens": Decimal("6"),
    }
    rows = {row.tier: row for row in credits_per_tier(meta, settings)}
    assert rows["free"].rates.blended_per_1k == Decimal("5")
    assert rows["free"].rates.output_per_1k == Decimal("7.5")
    assert rows["pro"].rates.blended_per_1k == Decimal("4")
    assert list(rows) == list(settings.tiers)


def _model(model_id: str, **meta: Any) -> Model:
    full = base_meta(**meta)
    full.setdefault("creditsPer1kTokens", Decimal("1.5"))
    return Model(id=model_id, is_available=True, is_archived=False, meta=full)


def test_the_impact_of_a_replacement() -> None:
    old = _model("old", capabilities=["text", "code"], requiredTier="free")
    new = _model(
        "new",
        capabilities=["text", "vision"],
        requiredTier="pro",
        contextLength=4096,
        inputCostUsdPerMillionTokens=Decimal("1"),
        outputCostUsdPerMillionTokens=Decimal("2.5"),
    )
    impact = replacement_impact(old, new, ("free", "pro", "max"))
    assert impact["input_price_change_percent"] == Decimal("100.0")
    assert impact["output_price_change_percent"] == Decimal("0.0")
    assert impact["capabilities_lost"] == ["code"]
    assert impact["capabilities_gained"] == ["vision"]
    assert impact["context_length"] == {"before": 8192, "after": 4096, "change": -4096}
    assert impact["tiers_losing_access"] == ["free"]
