"""The public read model: each model as served by `/v1`, and the list filters over them.

Pure and in memory: the same code serves a list loaded from the database or held in a snapshot.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from modelreg.access.rules import AccessDecision, decide
from modelreg.exceptions import ValidationFailed
from modelreg.pricing.credits import CreditRates, apply_margin

PRICE_UNIT = "USD per 1M tokens"
MAX_LIMIT = 500


class SortKey(StrEnum):
    ID = "id"
    CREDITS = "credits"
    CONTEXT_LENGTH = "context_length"
    CREATED = "created"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class CapabilityMatch(StrEnum):
    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class PublicModel:
    """One model as `/v1` serves it, with what the filters need precomputed."""

    id: str
    provider: str
    state: str
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
    state = "archived" if model.is_archived else "legacy" if model.is_legacy else "active"
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
        "state": state,
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


@dataclass(frozen=True)
class ListParams:
    provider: str | None = None
    capabilities: tuple[str, ...] = ()
    capability_match: CapabilityMatch = CapabilityMatch.ALL
    tier: str | None = None
    max_credits_per_1k: Decimal | None = None
    states: tuple[str, ...] = ()
    include_legacy: bool = True
    include_archived: bool = False
    include_unavailable: bool = False
    q: str | None = None
    sort: SortKey = SortKey.ID
    order: SortOrder = SortOrder.ASC
    limit: int | None = None
    after: str | None = None

    def wanted_states(self) -> frozenset[str]:
        if self.states:
            return frozenset(self.states)
        wanted = {"active"}
        if self.include_legacy:
            wanted.add("legacy")
        if self.include_archived:
            wanted.add("archived")
        return frozenset(wanted)


@dataclass(frozen=True)
class Page:
    items: list[tuple[PublicModel, CreditRates | None, AccessDecision | None]]
    has_more: bool
    next_after: str | None


def _sort_value(model: PublicModel, key: SortKey) -> Any:
    match key:
        case SortKey.ID:
            return ""
        case SortKey.CREDITS:
            return model.rates.blended_per_1k
        case SortKey.CONTEXT_LENGTH:
            return model.context_length
        case SortKey.CREATED:
            return model.created


STATES = ("active", "legacy", "archived")
# Keyset values beyond what PostgreSQL's bigint and our numbers can hold are not cursors of ours.
MAX_CURSOR_NUMBER = 2**63 - 1


def check_tier(tier: str, tiers: Sequence[str]) -> str:
    if tier not in tiers:
        raise ValidationFailed(
            [{"path": "tier", "message": f"unknown tier; known: {', '.join(tiers)}"}]
        )
    return tier


def check_states(states: Sequence[str]) -> tuple[str, ...]:
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ValidationFailed(
            [{"path": "state", "message": f"unknown state {bad}; use {', '.join(STATES)}"}]
        )
    return tuple(states)


def pack_cursor(value: Any, model_id: str) -> str:
    """An opaque `after` cursor: the sort value and the id of the last item of a page."""
    raw = json.dumps([None if value is None else str(value), model_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unpack_cursor(
    cursor: str, key: SortKey, *, created: Callable[[str], Any] = int
) -> tuple[Any, str]:
    """(sort value, id) of a cursor made by pack_cursor for the same sort; `created` parses
    the creation time (an epoch for the public list, a timestamp for the admin one)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, model_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        match key:
            case SortKey.ID:
                return "", str(model_id)
            case SortKey.CREDITS:
                number = Decimal(value)
                if not number.is_finite() or abs(number) > MAX_CURSOR_NUMBER:
                    raise ValueError("out of range")
                return number, str(model_id)
            case SortKey.CONTEXT_LENGTH:
                integer = int(value)
                if abs(integer) > MAX_CURSOR_NUMBER:
                    raise ValueError("out of range")
                return integer, str(model_id)
            case SortKey.CREATED:
                return created(value), str(model_id)
    except (ValueError, TypeError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationFailed(
        [{"path": "after", "message": "not a cursor from this list (with this sort)"}]
    )


def select_models(
    models: Sequence[PublicModel],
    params: ListParams,
    *,
    tiers: Sequence[str],
    margin: Decimal,
) -> Page:
    """Filter, sort and page `models` (which must be sorted by id)."""
    # Every test below reads locals: this loop runs once per model of the catalog.
    wanted_states = params.wanted_states()
    needle = params.q.casefold() if params.q else None
    wanted_caps = frozenset(params.capabilities)
    match_all = params.capability_match is CapabilityMatch.ALL
    include_unavailable = params.include_unavailable
    provider = params.provider
    tier = params.tier
    tier_list = tuple(tiers)
    max_credits = params.max_credits_per_1k
    chosen: list[tuple[PublicModel, CreditRates | None, AccessDecision | None]] = []
    append = chosen.append
    for model in models:
        state = model.state
        if state not in wanted_states:
            continue
        # Archiving makes a model unavailable; asking for archived models means wanting them.
        if not include_unavailable and not model.available and state != "archived":
            continue
        if provider is not None and model.provider != provider:
            continue
        if wanted_caps:
            if match_all:
                if not wanted_caps <= model.capabilities:
                    continue
            elif not wanted_caps & model.capabilities:
                continue
        if needle is not None and needle not in model.search_text:
            continue
        tier_rates: CreditRates | None = None
        decision: AccessDecision | None = None
        if tier is not None:
            decision = model.access(tier, tier_list)
            if not decision.allowed:
                continue
            tier_rates = apply_margin(model.rates, margin) if margin else model.rates
        if max_credits is not None and (tier_rates or model.rates).blended_per_1k > max_credits:
            continue
        append((model, tier_rates, decision))

    reverse = params.order is SortOrder.DESC
    if params.sort is not SortKey.ID or reverse:
        chosen.sort(
            key=lambda item: (_sort_value(item[0], params.sort), item[0].id), reverse=reverse
        )
    if params.after is not None:
        cursor = unpack_cursor(params.after, params.sort)
        chosen = [
            item
            for item in chosen
            if (
                (_sort_value(item[0], params.sort), item[0].id) < cursor
                if reverse
                else (_sort_value(item[0], params.sort), item[0].id) > cursor
            )
        ]
    if params.limit is None or len(chosen) <= params.limit:
        return Page(items=chosen, has_more=False, next_after=None)
    page = chosen[: params.limit]
    last = page[-1][0]
    next_after = pack_cursor(_sort_value(last, params.sort), last.id)
    return Page(items=page, has_more=True, next_after=next_after)


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
    if model.state != "legacy":
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
