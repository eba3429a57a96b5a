"""The replacement impact of marking a model legacy: what its users would get by moving to the
replacement (price change in %, capabilities lost, context and max-output change, tiers that
lose access), and the models a mark-legacy may name as the replacement."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.access.rules import decide
from modelreg.catalog import repository
from modelreg.catalog.models import Model
from modelreg.catalog.replacements import check_replacement
from modelreg.catalog.service import get_model
from modelreg.config import get_settings
from modelreg.lifecycle import rules
from modelreg.lifecycle.exceptions import ReplacementInvalid


def _percent(before: Any, after: Any) -> Decimal | None:
    """The change from `before` to `after` in %, to one decimal place; None from a price of 0."""
    old, new = Decimal(str(before)), Decimal(str(after))
    if old == 0:
        return None if new != 0 else Decimal(0)
    return ((new - old) / old * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def _allowed_tiers(meta: dict[str, Any], tiers: Sequence[str]) -> list[str]:
    return [
        tier
        for tier in tiers
        if decide(
            tier,
            required_tier=meta["requiredTier"],
            mode=meta["tierRestrictionMode"],
            allowed_tiers=meta.get("allowedTiers", []),
            tiers=tiers,
        ).allowed
    ]


def replacement_impact(model: Model, replacement: Model, tiers: Sequence[str]) -> dict[str, Any]:
    old, new = model.meta, replacement.meta
    old_out, new_out = old.get("maxOutputTokens"), new.get("maxOutputTokens")
    allowed_before = _allowed_tiers(old, tiers)
    allowed_after = set(_allowed_tiers(new, tiers))
    return {
        "model_id": model.id,
        "replacement_model_id": replacement.id,
        "input_price_change_percent": _percent(
            old["inputCostUsdPerMillionTokens"], new["inputCostUsdPerMillionTokens"]
        ),
        "output_price_change_percent": _percent(
            old["outputCostUsdPerMillionTokens"], new["outputCostUsdPerMillionTokens"]
        ),
        "credits_change_percent": _percent(old["creditsPer1kTokens"], new["creditsPer1kTokens"]),
        "capabilities_lost": [c for c in old["capabilities"] if c not in new["capabilities"]],
        "capabilities_gained": [c for c in new["capabilities"] if c not in old["capabilities"]],
        "context_length": {
            "before": old["contextLength"],
            "after": new["contextLength"],
            "change": new["contextLength"] - old["contextLength"],
        },
        "max_output_tokens": {
            "before": old_out,
            "after": new_out,
            "change": new_out - old_out if old_out is not None and new_out is not None else None,
        },
        "tiers_losing_access": [t for t in allowed_before if t not in allowed_after],
        "replacement_available": replacement.is_available and not replacement.is_archived,
    }


async def impact(session: AsyncSession, model_id: str, replacement_id: str) -> dict[str, Any]:
    """What moving from `model_id` to `replacement_id` changes (the replacement must be one
    mark-legacy would accept)."""
    model = await get_model(session, model_id)
    await check_replacement(session, model_id, replacement_id)
    replacement = await get_model(session, replacement_id)
    return replacement_impact(model, replacement, get_settings().tiers)


async def valid_replacements(session: AsyncSession, model_id: str) -> list[tuple[str, str]]:
    """(id, display name) of every model `model_id` may name as its replacement: not itself,
    not archived, and no loop in the chain."""
    graph = await repository.replacement_graph(session)
    choices: list[tuple[str, str]] = []
    for candidate in await repository.served_ids_and_names(session):
        if candidate[0] == model_id:
            continue
        try:
            rules.check_chain(graph, model_id, candidate[0])
        except ReplacementInvalid:
            continue
        choices.append(candidate)
    return choices
