"""The public read model: each model as `/v1` serves it, with what the filters need
precomputed, and its JSON rendering. Pure and in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Protocol

from modelreg.access.rules import AccessDecision, decide
from modelreg.lifecycle.states import LifecycleState, state_of
from modelreg.pricing.credits import CreditRates

PRICE_UNIT = "USD per 1M tokens"


@dataclass(frozen=True)
class PublicModel:
    """One model as `/v1` serves it, with what the filters need precomputed."""

    id: str
    provider: str
    state: LifecycleState
    available: bool
    created: int
    context_length: int
    capabilities: frozenset[str]
    rates: CreditRates
    required_tier: str
    tier_restriction_mode: str
    allowed_tiers: tuple[str, ...]
    replacement_model_id: str | None
    sunset_date: str | None
    deprecated_at: str | None
    search_text: str
    body: dict[str, Any] = field(compare=False)

    def access(self, tier: str, tiers: Sequence[str]) -> AccessDecision:
        return _decide(
            tier, self.required_tier, self.tier_restriction_mode, self.allowed_tiers, tuple(tiers)
        )


@lru_cache(maxsize=4096)
def _decide(
    tier: str, required_tier: str, mode: str, allowed_tiers: tuple[str, ...], tiers: tuple[str, ...]
) -> AccessDecision:
    """`decide`, remembered: a catalog has few distinct rules, and a filtered list of 100,000
    models asks each of them once instead of once per model (the decision is immutable)."""
    return decide(
        tier, required_tier=required_tier, mode=mode, allowed_tiers=allowed_tiers, tiers=tiers
    )


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def rates_of(meta: dict[str, Any]) -> CreditRates:
    """Stored credit rates; rows from the legacy schema have only the blended one."""
    blended = _decimal(meta["creditsPer1kTokens"])
    return CreditRates(
        input_per_1k=_decimal(meta.get("inputCreditsPer1kTokens", blended)),
        output_per_1k=_decimal(meta.get("outputCreditsPer1kTokens", blended)),
        blended_per_1k=blended,
    )


def credits_view(rates: CreditRates) -> dict[str, Any]:
    return {
        "per_1k_tokens": rates.blended_per_1k,
        "input_per_1k_tokens": rates.input_per_1k,
        "output_per_1k_tokens": rates.output_per_1k,
    }


class ModelRow(Protocol):
    """What public_model reads: an ORM Model or a plain result row with the same columns."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def is_available(self) -> bool: ...
    @property
    def is_legacy(self) -> bool: ...
    @property
    def is_archived(self) -> bool: ...
    @property
    def meta(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


def public_model(model: ModelRow) -> PublicModel:
    meta = model.meta
    state = state_of(model)
    rates = rates_of(meta)
    legacy = None
    if model.is_legacy:
        legacy = {
            "replacement_model_id": meta.get("legacyReplacementModelId"),
            "deprecation_notice": meta.get("deprecationNotice"),
            "sunset_date": meta.get("sunsetDate"),
            "deprecated_at": meta.get("deprecatedAt"),
        }
    created = int(model.created_at.timestamp())
    body: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": model.provider,
        "name": model.name,
        "display_name": meta["displayName"],
        "description": meta.get("description", ""),
        "version": meta.get("version", ""),
        "state": state.value,
        "available": model.is_available,
        "capabilities": list(meta["capabilities"]),
        "context_length": meta["contextLength"],
        "max_output_tokens": meta.get("maxOutputTokens"),
        "pricing": {
            "unit": PRICE_UNIT,
            "input": meta["inputCostUsdPerMillionTokens"],
            "output": meta["outputCostUsdPerMillionTokens"],
        },
        "credits": credits_view(rates),
        "tier_access": {
            "required_tier": meta["requiredTier"],
            "mode": meta["tierRestrictionMode"],
            "allowed_tiers": list(meta["allowedTiers"]),
        },
        "legacy": legacy,
        "provider_metadata": meta.get("providerMetadata", {}),
        "compliance_tags": list(meta.get("complianceTags", [])),
    }
    return PublicModel(
        id=model.id,
        provider=model.provider,
        state=state,
        available=model.is_available,
        created=created,
        context_length=int(meta["contextLength"]),
        capabilities=frozenset(meta["capabilities"]),
        rates=rates,
        required_tier=str(meta["requiredTier"]),
        tier_restriction_mode=str(meta["tierRestrictionMode"]),
        allowed_tiers=tuple(meta["allowedTiers"]),
        replacement_model_id=meta.get("legacyReplacementModelId") if model.is_legacy else None,
        sunset_date=meta.get("sunsetDate") if model.is_legacy else None,
        deprecated_at=meta.get("deprecatedAt") if model.is_legacy else None,
        search_text=f"{model.id}\n{meta['displayName']}".casefold(),
        body=body,
    )


def render(
    model: PublicModel, tier: str | None, rates: CreditRates | None, decision: AccessDecision | None
) -> dict[str, Any]:
    """The JSON of one model in a list or by id, with the tier-specific parts when asked."""
    if tier is None:
        return model.body
    body = dict(model.body)
    if rates is not None:
        body["credits"] = {**credits_view(rates), "tier": tier}
    if decision is not None:
        body["access"] = access_view(decision)
    return body


def access_view(decision: AccessDecision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "reason": decision.reason,
        "required_tier": decision.required_tier,
        "upgrade_to": decision.upgrade_to,
    }


def _http_date(value: str) -> str:
    moment = (
        datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        if len(value) == 10
        else datetime.fromisoformat(value).astimezone(UTC)
    )
    return format_datetime(moment, usegmt=True)


def legacy_headers(model: PublicModel) -> dict[str, str]:
    """RFC 9745 Deprecation, RFC 8594 Sunset and a successor-version Link for a legacy model."""
    if model.state is not LifecycleState.LEGACY:
        return {}
    since = (
        int(datetime.fromisoformat(model.deprecated_at).timestamp())
        if model.deprecated_at
        else model.created
    )
    headers = {"Deprecation": f"@{since}"}
    if model.sunset_date:
        headers["Sunset"] = _http_date(model.sunset_date)
    if model.replacement_model_id:
        headers["Link"] = f'</v1/models/{model.replacement_model_id}>; rel="successor-version"'
    return headers


@dataclass(frozen=True)
class CatalogView:
    """Every model (archived included), sorted by id, and the revision they were read at."""

    revision: int
    models: tuple[PublicModel, ...]
    by_id: dict[str, PublicModel] = field(compare=False)

    @classmethod
    def of(cls, revision: int, models: list[PublicModel]) -> CatalogView:
        ordered = tuple(sorted(models, key=lambda m: m.id))
        return cls(revision=revision, models=ordered, by_id={m.id: m for m in ordered})

    def updated(self, revision: int, changed: list[PublicModel]) -> CatalogView:
        """This view with `changed` models replaced or added."""
        by_id = dict(self.by_id)
        for model in changed:
            by_id[model.id] = model
        ordered = tuple(by_id[key] for key in sorted(by_id))
        return CatalogView(revision=revision, models=ordered, by_id=by_id)


class CatalogReader(Protocol):
    def view(self) -> CatalogView: ...


def build_view(revision: int, rows: Sequence[ModelRow]) -> CatalogView:
    return CatalogView.of(revision, [public_model(row) for row in rows])
