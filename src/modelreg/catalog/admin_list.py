"""The admin list: filters, sorting and keyset pagination done by the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog import repository
from modelreg.catalog.models import Model
from modelreg.catalog.query import (
    CapabilityMatch,
    SortKey,
    SortOrder,
    check_states,
    check_tier,
    pack_cursor,
    unpack_cursor,
)
from modelreg.config import get_settings


@dataclass(frozen=True)
class AdminListParams:
    provider: str | None = None
    capabilities: tuple[str, ...] = ()
    capability_match: CapabilityMatch = CapabilityMatch.ALL
    tier: str | None = None
    max_credits_per_1k: Decimal | None = None
    states: tuple[str, ...] = ()
    q: str | None = None
    sort: SortKey = SortKey.ID
    order: SortOrder = SortOrder.ASC
    limit: int = 100
    after: str | None = None


def _sort_value(model: Model, sort: SortKey) -> Any:
    match sort:
        case SortKey.ID:
            return None
        case SortKey.CREDITS:
            return str(model.meta["creditsPer1kTokens"])
        case SortKey.CONTEXT_LENGTH:
            return int(model.meta["contextLength"])
        case SortKey.CREATED:
            return model.created_at.isoformat()


async def list_models_page(
    session: AsyncSession, params: AdminListParams
) -> tuple[Sequence[Model], str | None]:
    settings = get_settings()
    check_states(params.states)
    if params.tier is not None:
        check_tier(params.tier, settings.tiers)
    query = repository.admin_query(
        provider=params.provider,
        capabilities=params.capabilities,
        capability_match_any=params.capability_match is CapabilityMatch.ANY,
        tier=params.tier,
        tiers=settings.tiers,
        max_credits_per_1k=params.max_credits_per_1k,
        states=params.states,
        q=params.q,
        sort=params.sort.value,
        descending=params.order is SortOrder.DESC,
        after=(
            unpack_cursor(params.after, params.sort, created=datetime.fromisoformat)
            if params.after
            else None
        ),
        limit=params.limit + 1,
    )
    models = list(await repository.run_list(session, query))
    if len(models) <= params.limit:
        return models, None
    page = models[: params.limit]
    return page, pack_cursor(_sort_value(page[-1], params.sort), page[-1].id)
