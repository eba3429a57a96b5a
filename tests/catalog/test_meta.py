"""`ModelMeta`: what a model's `meta` may hold, how it is stored, and its published schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from modelreg.catalog.meta import REQUIRED_KEYS, ModelMeta, meta_json_schema
from modelreg.cli.main import app
from modelreg.config import get_settings
from modelreg.db import jsonb


def _valid_meta() -> dict[str, Any]:
    return {
        "displayName": "Example Model",
        "capabilities": ["text", "vision"],
        "contextLength": 128000,
        "maxOutputTokens": 16384,
        "inputCostUsdPerMillionTokens": Decimal("2.5"),
        "outputCostUsdPerMillionTokens": Decimal("10"),
        "creditsPer1kTokens": Decimal("6.25"),
        "requiredTier": "pro",
        "tierRestrictionMode": "minimum",
        "allowedTiers": [],
    }


def _rejected_at(changes: dict[str, Any]) -> tuple[int | str, ...]:
    """Validate the valid meta with `changes` applied; return where the first error is."""
    with pytest.raises(ValidationError) as caught:
        ModelMeta.model_validate(_valid_meta() | changes)
    return caught.value.errors()[0]["loc"]


@pytest.fixture
def telepathic_vocabulary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Configure a capability vocabulary of "text" and "telepathy" (and two custom tiers)."""
    monkeypatch.setenv("MODELREG_CAPABILITIES", '["text","telepathy"]')
    monkeypatch.setenv("MODELREG_TIERS", '["bronze","gold"]')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# Rejected, each at the field at fault.


def test_null_display_name_is_rejected_at_display_name() -> None:
    assert _rejected_at({"displayName": None}) == ("displayName",)


def test_empty_display_name_is_rejected_at_display_name() -> None:
    assert _rejected_at({"displayName": ""}) == ("displayName",)


def test_display_name_of_256_characters_is_rejected_at_display_name() -> None:
    assert _rejected_at({"displayName": "x" * 256}) == ("displayName",)


def test_empty_capabilities_are_rejected_at_capabilities() -> None:
    assert _rejected_at({"capabilities": []}) == ("capabilities",)


def test_unknown_capability_is_rejected_at_capabilities() -> None:
    assert _rejected_at({"capabilities": ["text", "telepathy"]}) == ("capabilities",)


def test_duplicated_capability_is_rejected_at_capabilities() -> None:
    assert _rejected_at({"capabilities": ["text", "vision", "text"]}) == ("capabilities",)


def test_context_length_zero_is_rejected_at_context_length() -> None:
    assert _rejected_at({"contextLength": 0}) == ("contextLength",)


def test_context_length_as_string_is_rejected_at_context_length() -> None:
    assert _rejected_at({"contextLength": "128000"}) == ("contextLength",)


def test_context_length_as_boolean_is_rejected_at_context_length() -> None:
    assert _rejected_at({"contextLength": True}) == ("contextLength",)


def test_max_output_tokens_zero_is_rejected_at_max_output_tokens() -> None:
    assert _rejected_at({"maxOutputTokens": 0}) == ("maxOutputTokens",)


def test_max_output_tokens_above_context_length_is_rejected_at_max_output_tokens() -> None:
    assert _rejected_at({"contextLength": 8192, "maxOutputTokens": 8193}) == ("maxOutputTokens",)


def test_negative_price_is_rejected_at_that_price() -> None:
    changes = {"inputCostUsdPerMillionTokens": Decimal("-0.01")}
    assert _rejected_at(changes) == ("inputCostUsdPerMillionTokens",)


def test_price_given_as_string_is_rejected_at_that_price() -> None:
    changes = {"outputCostUsdPerMillionTokens": "10"}
    assert _rejected_at(changes) == ("outputCostUsdPerMillionTokens",)


def test_negative_credits_per_1k_tokens_are_rejected_at_credits() -> None:
    # 0 is a free model (README: credits); below 0 is nothing.
    assert _rejected_at({"creditsPer1kTokens": -1}) == ("creditsPer1kTokens",)


def test_unknown_required_tier_is_rejected_at_required_tier() -> None:
    assert _rejected_at({"requiredTier": "platinum"}) == ("requiredTier",)


def test_unknown_allowed_tier_is_rejected_at_allowed_tiers() -> None:
    assert _rejected_at({"allowedTiers": ["pro", "platinum"]}) == ("allowedTiers",)


def test_unknown_tier_restriction_mode_is_rejected_at_tier_restriction_mode() -> None:
    assert _rejected_at({"tierRestrictionMode": "sometimes"}) == ("tierRestrictionMode",)


def test_whitelist_without_allowed_tiers_is_rejected_at_allowed_tiers() -> None:
    changes = {"tierRestrictionMode": "whitelist", "allowedTiers": []}
    assert _rejected_at(changes) == ("allowedTiers",)


def test_sunset_date_that_is_not_a_date_is_rejected_at_sunset_date() -> None:
    assert _rejected_at({"sunsetDate": "not-a-date"}) == ("sunsetDate",)


def test_default_capability_outside_the_configured_vocabulary_is_rejected_at_capabilities(
    telepathic_vocabulary: None,
) -> None:
    changes = {"capabilities": ["text", "vision"], "requiredTier": "gold"}
    assert _rejected_at(changes) == ("capabilities",)


# Accepted, and how it is stored.


def test_valid_meta_validates() -> None:
    meta = ModelMeta.model_validate(_valid_meta())
    assert meta.display_name == "Example Model"
    assert meta.capabilities == ["text", "vision"]
    assert meta.context_length == 128000
    assert meta.credits_per_1k_tokens == Decimal("6.25")


def test_unknown_keys_survive_to_storage() -> None:
    extra = {"x-providerRegion": "eu-west-1", "futureField": {"nested": [1, "two", None]}}
    stored = ModelMeta.model_validate(_valid_meta() | extra).to_storage()
    assert stored["x-providerRegion"] == "eu-west-1"
    assert stored["futureField"] == {"nested": [1, "two", None]}


def test_configured_capability_validates(telepathic_vocabulary: None) -> None:
    meta = ModelMeta.model_validate(
        _valid_meta() | {"capabilities": ["text", "telepathy"], "requiredTier": "gold"}
    )
    assert meta.capabilities == ["text", "telepathy"]


def test_sunset_date_accepts_a_calendar_date_stored_as_iso_date() -> None:
    stored = ModelMeta.model_validate(_valid_meta() | {"sunsetDate": "2027-01-31"}).to_storage()
    assert stored["sunsetDate"] == "2027-01-31"


def test_sunset_date_accepts_a_utc_timestamp_stored_as_iso_timestamp() -> None:
    meta = ModelMeta.model_validate(_valid_meta() | {"sunsetDate": "2027-01-31T12:00:00Z"})
    stored = meta.to_storage()["sunsetDate"]
    assert isinstance(stored, str)
    assert datetime.fromisoformat(stored) == datetime(2027, 1, 31, 12, tzinfo=UTC)


def test_sunset_timestamp_with_an_offset_is_stored_in_utc_not_cut_to_a_date() -> None:
    meta = ModelMeta.model_validate(_valid_meta() | {"sunsetDate": "2027-01-31T00:00:00+05:00"})
    assert meta.to_storage()["sunsetDate"] == "2027-01-30T19:00:00+00:00"


def test_unknown_max_output_tokens_is_absent_from_storage_not_null() -> None:
    stored = ModelMeta.model_validate(_valid_meta() | {"maxOutputTokens": None}).to_storage()
    assert "maxOutputTokens" not in stored
    assert "contextLength" in stored


def test_prices_parsed_from_json_text_survive_storage_unchanged() -> None:
    source = """{
        "displayName": "Example Model", "capabilities": ["text"], "contextLength": 128000,
        "inputCostUsdPerMillionTokens": 0.075,
        "outputCostUsdPerMillionTokens": 1234567.123456789,
        "creditsPer1kTokens": 0.10000000000000000001,
        "requiredTier": "free", "tierRestrictionMode": "minimum", "allowedTiers": []
    }"""

    stored = jsonb.dumps(ModelMeta.model_validate(jsonb.loads(source)).to_storage())

    numbers = json.loads(stored, parse_float=str)
    assert numbers["inputCostUsdPerMillionTokens"] == "0.075"
    assert numbers["outputCostUsdPerMillionTokens"] == "1234567.123456789"
    assert numbers["creditsPer1kTokens"] == "0.10000000000000000001"


# The published schema.


def test_meta_json_schema_lists_the_configured_tiers_and_capabilities_as_enums(
    telepathic_vocabulary: None,
) -> None:
    props = meta_json_schema()["properties"]
    assert props["capabilities"]["items"]["enum"] == ["text", "telepathy"]
    assert props["requiredTier"]["enum"] == ["bronze", "gold"]
    assert props["allowedTiers"]["items"]["enum"] == ["bronze", "gold"]


def test_meta_json_schema_requires_every_required_key() -> None:
    required = meta_json_schema()["required"]
    assert [key for key in REQUIRED_KEYS if key not in required] == []


def test_cli_schema_meta_prints_the_meta_json_schema() -> None:
    result = CliRunner().invoke(app, ["schema", "meta"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == meta_json_schema()
