"""What the console's pages show, computed from models and settings: credits per tier, the
access matrix, the replacement chain, and the edit form's parsing into a merge patch."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from modelreg.access.rules import AccessDecision, UnknownTier, decide
from modelreg.config import Settings
from modelreg.db import jsonb
from modelreg.pricing.credits import CreditRates, apply_margin

# The meta keys the form edits field by field; the rest (but the lifecycle's) are "advanced".
FORM_META_KEYS = (
    "displayName",
    "description",
    "version",
    "capabilities",
    "contextLength",
    "maxOutputTokens",
    "inputCostUsdPerMillionTokens",
    "outputCostUsdPerMillionTokens",
    "creditsPer1kTokens",
    "inputCreditsPer1kTokens",
    "outputCreditsPer1kTokens",
    "creditsPinned",
    "requiredTier",
    "tierRestrictionMode",
    "allowedTiers",
    "internalNotes",
    "complianceTags",
)
LIFECYCLE_META_KEYS = (
    "legacyReplacementModelId",
    "deprecationNotice",
    "sunsetDate",
    "deprecatedAt",
)
INTEGER_FIELDS = ("contextLength", "maxOutputTokens")
DECIMAL_FIELDS = ("inputCostUsdPerMillionTokens", "outputCostUsdPerMillionTokens")
CREDIT_FIELDS = ("creditsPer1kTokens", "inputCreditsPer1kTokens", "outputCreditsPer1kTokens")


@dataclass(frozen=True)
class TierCredits:
    tier: str
    margin: Decimal
    rates: CreditRates


def credits_per_tier(meta: Mapping[str, Any], settings: Settings) -> list[TierCredits]:
    """The model's credit rates for each tier, with the tier's margin."""
    blended = Decimal(str(meta["creditsPer1kTokens"]))
    base = CreditRates(
        input_per_1k=Decimal(str(meta.get("inputCreditsPer1kTokens", blended))),
        output_per_1k=Decimal(str(meta.get("outputCreditsPer1kTokens", blended))),
        blended_per_1k=blended,
    )
    return [
        TierCredits(
            tier, settings.tier_margin(tier), apply_margin(base, settings.tier_margin(tier))
        )
        for tier in settings.tiers
    ]


def access_matrix(
    meta: Mapping[str, Any], tiers: Sequence[str]
) -> list[tuple[str, AccessDecision]]:
    rows: list[tuple[str, AccessDecision]] = []
    for tier in tiers:
        try:
            decision = decide(
                tier,
                required_tier=meta["requiredTier"],
                mode=meta["tierRestrictionMode"],
                allowed_tiers=meta.get("allowedTiers", []),
                tiers=tiers,
            )
        except (UnknownTier, ValueError) as exc:
            decision = AccessDecision(False, str(exc), str(meta.get("requiredTier")), None)
        rows.append((tier, decision))
    return rows


def days_until(value: Any, now: datetime | None = None) -> int | None:
    """Whole days from today to a stored sunset date (negative once past)."""
    if not value:
        return None
    text = str(value)
    today = (now or datetime.now(UTC)).date()
    day = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    return (day - today).days


def pretty_json(value: Any) -> str:
    return json.dumps(jsonb.loads(jsonb.dumps(value)), indent=2, sort_keys=True, default=str)


def advanced_part(meta: Mapping[str, Any]) -> dict[str, Any]:
    """providerMetadata and the unknown keys: what the "advanced JSON" field edits."""
    return {
        key: value
        for key, value in meta.items()
        if key not in FORM_META_KEYS and key not in LIFECYCLE_META_KEYS
    }


def make_merge_patch(before: Any, after: Any) -> Any:
    """The RFC 7396 merge patch that turns `before` into `after` (None: nothing to change)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return after
    patch: dict[str, Any] = {}
    for key in before.keys() - after.keys():
        patch[key] = None
    for key, value in after.items():
        if key not in before:
            patch[key] = value
        elif before[key] != value or type(before[key]) is not type(value):
            sub = make_merge_patch(before[key], value)
            patch[key] = sub if not (isinstance(sub, dict) and not sub) else value
    return patch


@dataclass
class ParsedForm:
    """The model form, read: the values as typed and the errors by field name."""

    top: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse_model_form(
    form: Mapping[str, Any], lists: Mapping[str, list[str]], previous_meta: Mapping[str, Any]
) -> ParsedForm:
    """The edit or create form as `name`, `provider`, `is_available` and a full meta (the
    lifecycle keys of `previous_meta` kept as they are)."""
    parsed = ParsedForm()
    parsed.top = {
        "name": str(form.get("name", "")).strip(),
        "provider": str(form.get("provider", "")).strip(),
        "is_available": form.get("is_available") == "on",
    }
    meta: dict[str, Any] = {
        "displayName": str(form.get("displayName", "")).strip(),
        "description": str(form.get("description", "")),
        "version": str(form.get("version_label", "")),
        "capabilities": list(lists.get("capabilities", [])),
        "requiredTier": str(form.get("requiredTier", "")),
        "tierRestrictionMode": str(form.get("tierRestrictionMode", "")),
        "allowedTiers": list(lists.get("allowedTiers", [])),
        "internalNotes": str(form.get("internalNotes", "")),
        "complianceTags": [
            t.strip() for t in str(form.get("complianceTags", "")).split(",") if t.strip()
        ],
    }
    for key in INTEGER_FIELDS:
        text = str(form.get(key, "")).strip()
        if not text:
            continue
        try:
            meta[key] = int(text)
        except ValueError:
            parsed.errors[key] = "must be a whole number"
    for key in DECIMAL_FIELDS:
        text = str(form.get(key, "")).strip()
        try:
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidOperation
            meta[key] = value
        except InvalidOperation:
            parsed.errors[key] = "must be a number (US dollars per million tokens)"
    pinned = form.get("creditsPinned") == "on"
    meta["creditsPinned"] = pinned
    if pinned:
        for key in CREDIT_FIELDS:
            text = str(form.get(key, "")).strip()
            if not text:
                continue
            try:
                meta[key] = Decimal(text)
            except InvalidOperation:
                parsed.errors[key] = "must be a number"
    else:
        for key in CREDIT_FIELDS:
            if key in previous_meta:
                meta[key] = previous_meta[key]
    advanced_text = str(form.get("advanced", "")).strip() or "{}"
    try:
        advanced = jsonb.loads(advanced_text)
        if not isinstance(advanced, dict):
            raise ValueError("not an object")
        clash = sorted(set(advanced) & (set(FORM_META_KEYS) | set(LIFECYCLE_META_KEYS)))
        if clash:
            parsed.errors["advanced"] = f"edit {', '.join(clash)} with its own field"
        else:
            meta.update(advanced)
    except ValueError as exc:
        parsed.errors["advanced"] = f"must be a JSON object ({exc})"
    for key in LIFECYCLE_META_KEYS:
        if key in previous_meta:
            meta[key] = previous_meta[key]
    parsed.meta = meta
    return parsed


def field_of(path: str) -> str:
    """The form field an error path names: meta.contextLength -> contextLength."""
    name = path.removeprefix("meta.").split(".")[0].split("[")[0]
    if name in ("providerMetadata",) or name not in (*FORM_META_KEYS, "name", "provider", "id"):
        return "advanced" if path.startswith("meta.") and name not in ("meta",) else "form"
    return name
