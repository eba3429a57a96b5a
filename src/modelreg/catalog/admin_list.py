"""The admin list: filters, sorting and keyset pagination done by the database."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog import repository
from modelreg.catalog.models import Model
from modelreg.catalog.query import CapabilityMatch, SortKey, SortOrder
from modelreg.config import get_settings
from modelreg.exceptions import ValidationFailed

MAX_CURSOR_NUMBER = 2**63 - 1


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


def _encode(model: Model, sort: SortKey) -> str:
    raw = json.dumps([_sort_value(model, sort), model.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: SortKey) -> tuple[Any, str]:
    try:
        value, model_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        match sort:
            case SortKey.ID:
                return None, str(model_id)
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
                return datetime.fromisoformat(value), str(model_id)
    except (ValueError, TypeError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationFailed(
        [{"path": "after", "message": "not a cursor from this list (with this sort)"}]
    )


async def list_models_page(
    session: AsyncSession, params: AdminListParams
) -> tuple[Sequence[Model], str | None]:
    settings = get_settings()
    bad_states = [s for s in params.states if s not in ("active", "legacy", "archived")]
    if bad_states:
        raise ValidationFailed([{"path": "state", "message": f"unknown state {bad_states}"}])
    if params.tier is not None and params.tier not in settings.tiers:
        raise ValidationFailed(
            [{"path": "tier", "message": f"unknown tier; known: {', '.join(settings.tiers)}"}]
        )
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
        after=_decode(params.after, params.sort) if params.after else None,
        limit=params.limit + 1,
    )
    models = list(await repository.run_list(session, query))
    if len(models) <= params.limit:
        return models, None
    page = models[: params.limit]
    return page, _encode(page[-1], params.sort)
