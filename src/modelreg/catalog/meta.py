"""`ModelMeta`: the schema of `models.meta`, every descriptive property of a model.

Keys are camelCase in storage and on the wire. Unknown keys are kept as they are (a newer writer
or a provider-specific field must survive a round trip through an older reader). Prices are
Decimal in US dollars per million tokens and are stored as exact JSON numbers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from modelreg.access.rules import TierRestrictionMode
from modelreg.config import get_settings
from modelreg.db import jsonb

# The keys every stored meta must have (checked by `db verify` before schema validation).
REQUIRED_KEYS: tuple[str, ...] = (
    "displayName",
    "capabilities",
    "contextLength",
    "creditsPer1kTokens",
    "requiredTier",
    "tierRestrictionMode",
    "allowedTiers",
)


# Keys stored only when they have a value (absent, never null).
OPTIONAL_ABSENT_KEYS = (
    "maxOutputTokens",
    "inputCreditsPer1kTokens",
    "outputCreditsPer1kTokens",
    "deprecatedAt",
)

# Legacy information: set by the lifecycle actions; a PATCH that changes them is checked by
# the same rules (replacement chain, sunset not in the past).
LEGACY_KEYS = ("legacyReplacementModelId", "deprecationNotice", "sunsetDate", "deprecatedAt")

CREDIT_KEYS = ("creditsPer1kTokens", "inputCreditsPer1kTokens", "outputCreditsPer1kTokens")
PRICE_KEYS = ("inputCostUsdPerMillionTokens", "outputCostUsdPerMillionTokens")


def _json_number(value: Any) -> Any:
    """A number, never a string or a boolean dressed as one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _date_or_utc_datetime(value: Any) -> Any:
    """A calendar date stays a date; anything with a time of day becomes an aware UTC datetime
    (a naive one is read as UTC). Never a datetime silently cut down to its date."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO-8601 date or datetime") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("outside the years 1 to 9999 once converted to UTC") from None
    return value


SunsetDate = Annotated[date | datetime, BeforeValidator(_date_or_utc_datetime)]
"""A sunset: `2027-01-31`, or `2027-01-31T12:00:00Z` (stored in UTC)."""

# Bounds far above any real price, low enough for exact arithmetic and the indexes' numeric.
MAX_USD = 10**9
MAX_CREDITS = 10**12
Usd = Annotated[
    Decimal, BeforeValidator(_json_number), Field(ge=0, le=MAX_USD, allow_inf_nan=False)
]
# 0 is a free model (or a free direction): see README "Credits".
Credits = Annotated[
    Decimal, BeforeValidator(_json_number), Field(ge=0, le=MAX_CREDITS, allow_inf_nan=False)
]
TokenCount = Annotated[int, Field(strict=True, gt=0, le=2**31 - 1)]


class ModelMeta(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=True)

    display_name: str = Field(alias="displayName", min_length=1, max_length=255, strict=True)
    description: str = Field(default="", strict=True)
    version: str = Field(default="", max_length=255, strict=True)
    capabilities: list[str] = Field(min_length=1)
    context_length: TokenCount = Field(alias="contextLength")
    max_output_tokens: TokenCount | None = Field(default=None, alias="maxOutputTokens")
    input_cost_usd_per_million_tokens: Usd = Field(alias="inputCostUsdPerMillionTokens")
    output_cost_usd_per_million_tokens: Usd = Field(alias="outputCostUsdPerMillionTokens")
    credits_per_1k_tokens: Credits = Field(alias="creditsPer1kTokens")
    input_credits_per_1k_tokens: Credits | None = Field(
        default=None, alias="inputCreditsPer1kTokens"
    )
    output_credits_per_1k_tokens: Credits | None = Field(
        default=None, alias="outputCreditsPer1kTokens"
    )
    credits_pinned: bool = Field(default=False, alias="creditsPinned", strict=True)
    required_tier: str = Field(alias="requiredTier")
    tier_restriction_mode: TierRestrictionMode = Field(alias="tierRestrictionMode")
    allowed_tiers: list[str] = Field(alias="allowedTiers")
    legacy_replacement_model_id: str | None = Field(
        default=None, alias="legacyReplacementModelId", min_length=1, max_length=100
    )
    deprecation_notice: str | None = Field(default=None, alias="deprecationNotice")
    sunset_date: SunsetDate | None = Field(default=None, alias="sunsetDate")
    deprecated_at: datetime | None = Field(default=None, alias="deprecatedAt")
    provider_metadata: dict[str, Any] = Field(default_factory=dict, alias="providerMetadata")
    internal_notes: str = Field(default="", alias="internalNotes", strict=True)
    compliance_tags: list[str] = Field(default_factory=list, alias="complianceTags")

    @field_validator("description", "deprecation_notice", "internal_notes")
    @classmethod
    def _text_within_limit(cls, value: str | None) -> str | None:
        limit = get_settings().limits.max_text_chars
        if value is not None and len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    @field_validator("capabilities", "allowed_tiers", "compliance_tags", mode="before")
    @classmethod
    def _list_within_limit(cls, value: Any) -> Any:
        limit = get_settings().limits.max_list_items
        if isinstance(value, list) and len(value) > limit:
            raise ValueError(f"more than {limit} entries")
        return value

    @field_validator("provider_metadata")
    @classmethod
    def _metadata_within_limit(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_extra_json(value)
        return value

    @model_validator(mode="after")
    def _unknown_keys_within_limit(self) -> ModelMeta:
        if self.model_extra:
            try:
                _check_extra_json(self.model_extra)
            except ValueError as exc:
                raise PydanticCustomError(
                    "unknown_keys_too_large", "unknown keys: {reason}", {"reason": str(exc)}
                ) from None
        return self

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: list[str]) -> list[str]:
        vocabulary = get_settings().capabilities
        unknown = [c for c in value if c not in vocabulary]
        if unknown:
            raise ValueError(f"unknown capability {unknown!r}; known: {', '.join(vocabulary)}")
        if len(set(value)) != len(value):
            raise ValueError("capabilities must not repeat")
        return value

    @field_validator("required_tier")
    @classmethod
    def _known_tier(cls, value: str) -> str:
        tiers = get_settings().tiers
        if value not in tiers:
            raise ValueError(f"unknown tier {value!r}; known: {', '.join(tiers)}")
        return value

    @field_validator("allowed_tiers")
    @classmethod
    def _known_tiers(cls, value: list[str]) -> list[str]:
        tiers = get_settings().tiers
        unknown = [t for t in value if t not in tiers]
        if unknown:
            raise ValueError(f"unknown tier {unknown!r}; known: {', '.join(tiers)}")
        return value

    @field_validator("max_output_tokens")
    @classmethod
    def _output_fits_context(cls, value: int | None, info: ValidationInfo) -> int | None:
        context_length = info.data.get("context_length")
        if value is not None and context_length is not None and value > context_length:
            raise ValueError(f"exceeds contextLength ({context_length})")
        return value

    @field_validator("allowed_tiers")
    @classmethod
    def _whitelist_names_tiers(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("tier_restriction_mode") is TierRestrictionMode.WHITELIST and not value:
            raise ValueError("tierRestrictionMode 'whitelist' needs at least one tier here")
        return value

    @field_serializer("sunset_date", "deprecated_at")
    def _iso_date(self, value: date | datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    def to_storage(self) -> dict[str, Any]:
        """The dict to store in `meta`: camelCase, Decimal kept exact, maxOutputTokens absent
        rather than null when unknown, unknown keys as they came."""
        data = self.model_dump(by_alias=True)
        for optional in OPTIONAL_ABSENT_KEYS:
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


def _check_extra_json(value: dict[str, Any]) -> None:
    """Free-form JSON within the limits: finite numbers, no NUL, not too deep, not too large."""
    limits = get_settings().limits
    bad = jsonb.first_unstorable(value, max_depth=limits.max_json_depth)
    if bad is not None:
        where, reason = bad
        raise ValueError(reason if where == "$" else f"{where}: {reason}")
    size = len(jsonb.dumps(value).encode())
    if size > limits.max_extra_json_bytes:
        raise ValueError(f"{size} bytes as JSON, more than {limits.max_extra_json_bytes}")


def meta_json_schema() -> dict[str, Any]:
    """The published JSON Schema of `meta`, with the configured vocabularies as enums."""
    settings = get_settings()
    schema = ModelMeta.model_json_schema(by_alias=True, mode="validation")
    props = schema["properties"]
    props["capabilities"]["items"]["enum"] = list(settings.capabilities)
    props["capabilities"]["uniqueItems"] = True
    props["requiredTier"]["enum"] = list(settings.tiers)
    props["allowedTiers"]["items"]["enum"] = list(settings.tiers)
    schema["title"] = "ModelMeta"
    schema["description"] = (
        "Every descriptive property of a model in modelreg's catalog. Prices are US dollars "
        "per million tokens as exact decimal numbers. Unknown keys are kept."
    )
    schema["additionalProperties"] = True
    return schema
