"""The public list's filters, sort and pages over the snapshot's models (sorted by id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from modelreg.access.rules import AccessDecision
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import (
    CapabilityMatch,
    ListParams,
    SortKey,
    SortOrder,
    pack_cursor,
    sort_value,
    unpack_cursor,
)
from modelreg.pricing.credits import CreditRates, apply_margin
from modelreg.public.schemas import PublicModel


@dataclass(frozen=True)
class Page:
    items: list[tuple[PublicModel, CreditRates | None, AccessDecision | None]]
    has_more: bool
    next_after: str | None


def _sort_value(model: PublicModel, key: SortKey) -> Any:
    return sort_value(
        key,
        credits=model.rates.blended_per_1k,
        context_length=model.context_length,
        created=model.created,
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
        if not include_unavailable and not model.available and state is not LifecycleState.ARCHIVED:
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
    next_after = pack_cursor(params.sort, _sort_value(last, params.sort), last.id)
    return Page(items=page, has_more=True, next_after=next_after)
