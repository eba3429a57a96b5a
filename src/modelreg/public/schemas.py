"""The public read model: each model as `/v1` serves it, with what the filters need
precomputed, and its JSON rendering. Pure and in memory."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Protocol

from modelreg.access.rules import AccessDecision, decide
from modelreg.lifecycle.states import LifecycleState, state_of
from modelreg.pricing.credits import CreditRates
from modelreg.pricing.schedule import PriceEntry, Prices, in_force, next_change

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
    # The price history (cancelled entries left out), in the order its entries take effect;
    # the prices of `meta` (the price of record); once priced by its schedule, the moment
    # `rates` and the body's prices are for, the next scheduled change after it, and the
    # scheduled entry in force at it that the database has not written to `meta` yet (epoch
    # seconds; None: none).
    prices: tuple[PriceEntry, ...] = field(default=(), compare=False)
    base_prices: Prices | None = field(default=None, compare=False)
    priced_at: float = field(default=0.0, compare=False)
    next_change_at: float | None = field(default=None, compare=False)
    pending_at: float | None = field(default=None, compare=False)

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


def public_model(
    model: ModelRow, prices: Sequence[PriceEntry] = (), now: float | None = None
) -> PublicModel:
    """The model as served at `now` (epoch seconds; the current time when not given): with the
    prices in force then, and the next scheduled change."""
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
        "next_price_change": None,
    }
    served = PublicModel(
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
        prices=tuple(prices),
        base_prices=Prices.of_meta(meta),
    )
    return priced(served, time.time() if now is None else now)


def _dated(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def price_view(prices: Prices) -> dict[str, Any]:
    return {"unit": PRICE_UNIT, "input": prices.input_usd, "output": prices.output_usd}


def prices_rates(prices: Prices) -> CreditRates:
    return CreditRates(
        input_per_1k=prices.input_credits_per_1k,
        output_per_1k=prices.output_credits_per_1k,
        blended_per_1k=prices.credits_per_1k,
    )


def priced(model: PublicModel, now: float) -> PublicModel:
    """`model` with the prices in force at `now`: a scheduled entry whose time has come is
    served even before the database writes it to `meta`; `next_price_change` is the first
    entry after `now`, or null."""
    entry = in_force(model.prices, now)
    pending = entry if entry is not None and entry.pending else None
    prices = pending.prices if pending is not None else model.base_prices
    upcoming = next_change(model.prices, now)
    if prices is None or (
        pending is None
        and upcoming is None
        and model.next_change_at is None
        and model.pending_at is None
    ):
        return model  # nothing scheduled: the body stands as built from meta
    rates = prices_rates(prices)
    body = dict(model.body)
    body["pricing"] = price_view(prices)
    body["credits"] = credits_view(rates)
    body["next_price_change"] = (
        # "credits" first: in a model's bytes, ', "credits": ' must occur once (the splice).
        {
            "credits": credits_view(prices_rates(upcoming.prices)),
            "effective_from": _dated(upcoming.at),
            "pricing": price_view(upcoming.prices),
        }
        if upcoming is not None
        else None
    )
    return replace(
        model,
        rates=rates,
        body=body,
        priced_at=now,
        next_change_at=upcoming.at if upcoming is not None else None,
        pending_at=pending.at if pending is not None else None,
    )


def price_at(model: PublicModel, moment: float) -> Prices | None:
    """The prices charged at `moment` (from the price history); None before its first entry.
    A model without a history (a row written with plain SQL) charges its meta's prices."""
    if not model.prices:
        return model.base_prices
    entry = in_force(model.prices, moment)
    return entry.prices if entry is not None else None


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
    # The next moment (epoch seconds) a model's price changes by its schedule: the view must
    # be priced again then (`repriced`). None: no change scheduled.
    next_boundary: float | None = field(default=None, compare=False)
    # The latest scheduled boundary passed whose price the database has not written yet: the
    # same revision serves other prices after it, so the ETag says which.
    price_epoch: float | None = field(default=None, compare=False)

    @classmethod
    def of(cls, revision: int, models: list[PublicModel]) -> CatalogView:
        ordered = tuple(sorted(models, key=lambda m: m.id))
        return cls._made(revision, ordered, {m.id: m for m in ordered})

    @classmethod
    def _made(
        cls, revision: int, ordered: tuple[PublicModel, ...], by_id: dict[str, PublicModel]
    ) -> CatalogView:
        boundaries = [m.next_change_at for m in ordered if m.next_change_at is not None]
        epochs = [m.pending_at for m in ordered if m.pending_at is not None]
        return cls(
            revision=revision,
            models=ordered,
            by_id=by_id,
            next_boundary=min(boundaries) if boundaries else None,
            price_epoch=max(epochs) if epochs else None,
        )

    @property
    def etag(self) -> str:
        """`"<revision>"`, or `"<revision>-<ms>"` once a scheduled price not yet written to the
        database is served (<ms>: its boundary, epoch milliseconds)."""
        if self.price_epoch is None:
            return f'"{self.revision}"'
        return f'"{self.revision}-{round(self.price_epoch * 1000)}"'

    def updated(self, revision: int, changed: list[PublicModel]) -> CatalogView:
        """This view with `changed` models replaced or added."""
        by_id = dict(self.by_id)
        for model in changed:
            by_id[model.id] = model
        ordered = tuple(by_id[key] for key in sorted(by_id))
        return CatalogView._made(revision, ordered, by_id)

    def repriced(self, now: float) -> tuple[CatalogView, list[str]]:
        """This view priced at `now`: the models whose scheduled change came, and their ids."""
        due = [
            priced(m, now)
            for m in self.models
            if m.next_change_at is not None and m.next_change_at <= now
        ]
        return self.updated(self.revision, due), [m.id for m in due]


class CatalogReader(Protocol):
    def view(self) -> CatalogView: ...


def build_view(
    revision: int,
    rows: Sequence[ModelRow],
    prices: Mapping[str, Sequence[PriceEntry]] | None = None,
    now: float | None = None,
) -> CatalogView:
    now = time.time() if now is None else now
    known = prices or {}
    return CatalogView.of(revision, [public_model(row, known.get(row.id, ()), now) for row in rows])
