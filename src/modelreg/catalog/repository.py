"""All SQL of the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.models import Model, ModelPrice
from modelreg.lifecycle.states import LifecycleState

# Expressions written exactly as the indexes are (see modelreg.db.indexes), so the planner can
# match them; SQLAlchemy's `meta["key"]` subscript renders differently and would not.
REQUIRED_TIER: ColumnElement[str] = literal_column("(meta->>'requiredTier')")
CREDITS: ColumnElement[Any] = literal_column("((meta->>'creditsPer1kTokens')::numeric)")
CAPABILITIES: ColumnElement[Any] = literal_column("(meta->'capabilities')")
MODE: ColumnElement[str] = literal_column("(meta->>'tierRestrictionMode')")
ALLOWED_TIERS: ColumnElement[Any] = literal_column("(meta->'allowedTiers')")


async def get(session: AsyncSession, model_id: str) -> Model | None:
    return await session.get(Model, model_id)


async def get_for_update(session: AsyncSession, model_id: str) -> Model | None:
    """The model, row-locked until the transaction ends: concurrent writers queue, none is lost."""
    result = await session.execute(
        select(Model)
        .where(Model.id == model_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_many_for_update(session: AsyncSession, model_ids: Sequence[str]) -> dict[str, Model]:
    """The models of `model_ids` that exist, by id, row-locked (in id order, so that two such
    writers never deadlock) until the transaction ends."""
    if not model_ids:
        return {}
    result = await session.execute(
        select(Model)
        .where(Model.id.in_(sorted(set(model_ids))))
        .order_by(Model.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {model.id: model for model in result.scalars()}


# The key of the advisory lock over the replacement graph ("modelreg" in ASCII).
REPLACEMENT_GRAPH_LOCK = 0x6D6F64656C726567


async def lock_replacement_graph(session: AsyncSession) -> None:
    """Hold the replacement graph until the transaction ends, on every instance: writers that
    add an edge or archive a possible target check and write one at a time. Taken before any
    row lock, by every such writer, so that no two of them wait on each other in a loop."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": REPLACEMENT_GRAPH_LOCK}
    )


async def add(session: AsyncSession, model: Model) -> None:
    session.add(model)
    await session.flush()


async def replacement_graph(session: AsyncSession) -> dict[str, str]:
    """model id -> the replacement it names, for every model that names one."""
    result = await session.execute(
        text(
            "SELECT id, meta->>'legacyReplacementModelId' AS replacement FROM models"
            " WHERE meta->>'legacyReplacementModelId' IS NOT NULL"
        )
    )
    return {str(r.id): str(r.replacement) for r in result}


async def models_replaced_by(session: AsyncSession, model_id: str) -> list[str]:
    """Ids of the non-archived models that name `model_id` as their replacement."""
    result = await session.execute(
        select(Model.id)
        .where(
            Model.meta.op("@>")({"legacyReplacementModelId": model_id}),
            Model.is_archived.is_(False),
        )
        .order_by(Model.id)
    )
    return list(result.scalars())


CONTEXT_LENGTH: ColumnElement[Any] = literal_column("((meta->>'contextLength')::bigint)")
SORT_COLUMNS: dict[str, Any] = {
    "id": Model.id,
    "credits": CREDITS,
    "context_length": CONTEXT_LENGTH,
    "created": Model.created_at,
}


def admin_query(
    *,
    provider: str | None = None,
    capabilities: Sequence[str] = (),
    capability_match_any: bool = False,
    tier: str | None = None,
    tiers: Sequence[str] = (),
    max_credits_per_1k: Any = None,
    states: Sequence[LifecycleState] = (),
    q: str | None = None,
    sort: str = "id",
    descending: bool = False,
    after: tuple[Any, str] | None = None,
    limit: int | None = None,
) -> Select[Model]:
    """The admin list's SQL: each filter written with its index expression."""
    conditions: list[ColumnElement[bool]] = []
    if provider is not None:
        conditions.append(Model.provider == provider)
    if capabilities:
        operator = "?|" if capability_match_any else "?&"
        conditions.append(CAPABILITIES.op(operator)(literal(list(capabilities), ARRAY(Text))))
    if tier is not None:
        at_or_below = list(tiers[: tiers.index(tier) + 1]) if tier in tiers else []
        conditions.append(
            or_(
                and_(MODE == "minimum", REQUIRED_TIER.in_(at_or_below)),
                and_(MODE == "exact", REQUIRED_TIER.is_not_distinct_from(tier)),
                and_(MODE == "whitelist", ALLOWED_TIERS.op("?")(tier)),
            )
        )
    if max_credits_per_1k is not None:
        conditions.append(max_credits_per_1k >= CREDITS)
    if states:
        # The SQL form of lifecycle.states.state_of.
        by_state = {
            LifecycleState.ACTIVE: and_(Model.is_legacy.is_(False), Model.is_archived.is_(False)),
            LifecycleState.LEGACY: and_(Model.is_legacy.is_(True), Model.is_archived.is_(False)),
            LifecycleState.ARCHIVED: Model.is_archived.is_(True),
        }
        conditions.append(or_(*(by_state[s] for s in states)))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            or_(Model.id.ilike(pattern), literal_column("(meta->>'displayName')").ilike(pattern))
        )
    key = SORT_COLUMNS[sort]
    if after is not None:
        value, after_id = after
        if sort == "id":
            conditions.append(Model.id < after_id if descending else Model.id > after_id)
        elif descending:
            conditions.append(tuple_(key, Model.id) < tuple_(literal(value), literal(after_id)))
        else:
            conditions.append(tuple_(key, Model.id) > tuple_(literal(value), literal(after_id)))
    order = (key.desc(), Model.id.desc()) if descending else (key.asc(), Model.id.asc())
    query = select(Model).where(*conditions).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return query


async def run_list(session: AsyncSession, query: Select[Model]) -> Sequence[Model]:
    return (await session.scalars(query)).all()


async def served_ids_and_names(session: AsyncSession) -> list[tuple[str, str]]:
    """(id, display name) of every model that is not archived, by id."""
    result: Any = await session.execute(
        select(Model.id, literal_column("meta->>'displayName'"))
        .where(Model.is_archived.is_(False))
        .order_by(Model.id)
    )
    return [(str(row[0]), str(row[1])) for row in result]


async def providers_and_state_counts(
    session: AsyncSession,
) -> tuple[list[str], dict[LifecycleState, int]]:
    """Every provider named in the catalog, and how many models are in each lifecycle state
    (one pass over the table)."""
    result: Any = await session.execute(
        select(Model.provider, Model.is_legacy, Model.is_archived, func.count()).group_by(
            Model.provider, Model.is_legacy, Model.is_archived
        )
    )
    providers: set[str] = set()
    counts = dict.fromkeys(LifecycleState, 0)
    for provider, is_legacy, is_archived, count in result:
        providers.add(str(provider))
        if is_archived:
            counts[LifecycleState.ARCHIVED] += int(count)
        elif is_legacy:
            counts[LifecycleState.LEGACY] += int(count)
        else:
            counts[LifecycleState.ACTIVE] += int(count)
    return sorted(providers), counts


# Price history (model_prices).


async def add_price(session: AsyncSession, entry: ModelPrice) -> ModelPrice:
    session.add(entry)
    await session.flush()
    await session.refresh(entry)
    return entry


async def prices_of(session: AsyncSession, model_id: str) -> Sequence[ModelPrice]:
    """Every price entry of a model (cancelled ones too), in the order they take effect."""
    query = (
        select(ModelPrice)
        .where(ModelPrice.model_id == model_id)
        .order_by(ModelPrice.effective_from, ModelPrice.id)
    )
    return (await session.scalars(query)).all()


async def price_for_update(
    session: AsyncSession, model_id: str, entry_id: int
) -> ModelPrice | None:
    query = (
        select(ModelPrice)
        .where(ModelPrice.model_id == model_id, ModelPrice.id == entry_id)
        .with_for_update()
    )
    return (await session.scalars(query)).one_or_none()


def _pending() -> ColumnElement[bool]:
    return and_(
        ModelPrice.scheduled,
        ModelPrice.applied_at.is_(None),
        ModelPrice.cancelled_at.is_(None),
    )


async def models_with_due_prices(session: AsyncSession, now: datetime) -> list[str]:
    """Ids of the models with a scheduled price whose time has come and that is not applied."""
    query = (
        select(ModelPrice.model_id)
        .where(_pending(), ModelPrice.effective_from <= now)
        .group_by(ModelPrice.model_id)
        .order_by(ModelPrice.model_id)
    )
    return list((await session.scalars(query)).all())


async def next_pending_price(session: AsyncSession) -> datetime | None:
    """When the next scheduled price (applied by no one yet) takes effect."""
    query = select(func.min(ModelPrice.effective_from)).where(_pending())
    return (await session.execute(query)).scalar_one()
