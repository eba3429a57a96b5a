"""All SQL of the read side: every model row at one revision, the rows changed since a revision,
and the tokens the public API may accept. The change log itself is read through
`modelreg.audit.repository`, the only module that knows its tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelreg.audit import repository as changes
from modelreg.auth.models import ApiToken
from modelreg.catalog.models import Model, ModelPrice
from modelreg.pricing.schedule import PriceEntry, Prices, ordered
from modelreg.public.schemas import ModelRow

# Columns the public read model needs (plain rows: far cheaper than ORM objects at 100k).
PUBLIC_COLUMNS = (
    Model.id,
    Model.name,
    Model.provider,
    Model.is_available,
    Model.is_legacy,
    Model.is_archived,
    Model.meta,
    Model.created_at,
)


PriceHistory = dict[str, tuple[PriceEntry, ...]]


async def read_catalog(conn: AsyncConnection) -> tuple[int, list[ModelRow], PriceHistory]:
    """The revision, every model row and every price history, in the caller's transaction."""
    revision = await changes.current_revision(conn)
    rows = (await conn.execute(select(*PUBLIC_COLUMNS).order_by(Model.id))).all()
    return revision, cast(list[ModelRow], rows), await read_prices(conn, None)


async def read_prices(conn: AsyncConnection, ids: list[str] | None) -> PriceHistory:
    """The price history of the models `ids` (all when None), cancelled entries left out."""
    query = select(
        ModelPrice.id,
        ModelPrice.model_id,
        ModelPrice.effective_from,
        ModelPrice.input_usd,
        ModelPrice.output_usd,
        ModelPrice.credits_per_1k,
        ModelPrice.input_credits_per_1k,
        ModelPrice.output_credits_per_1k,
        ModelPrice.credits_pinned,
        ModelPrice.scheduled,
        ModelPrice.applied_at,
    ).where(ModelPrice.cancelled_at.is_(None))
    if ids is not None:
        query = query.where(ModelPrice.model_id.in_(ids))
    found: dict[str, list[PriceEntry]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.model_id, []).append(
            PriceEntry(
                id=row.id,
                effective_from=row.effective_from,
                prices=Prices.of_row(row),
                pending=row.scheduled and row.applied_at is None,
            )
        )
    return {model_id: ordered(entries) for model_id, entries in found.items()}


@dataclass(frozen=True)
class Delta:
    """What changed after a revision: the new revision, its changes and the changed rows."""

    revision: int
    changes: list[tuple[int, str]]
    rows: list[ModelRow]
    prices: PriceHistory


async def load_delta(engine: AsyncEngine, since: int) -> Delta | None:
    """The rows changed after revision `since`, read in one snapshot; None when the changes
    cannot all be accounted for (a revision without its audit event: an edit made with plain
    SQL, a token change) and the whole catalog must be read instead."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            revision = await changes.current_revision(conn)
            if revision == since:
                return Delta(revision, [], [], {})
            found = await changes.changes_between(conn, since, revision)
            # Every revision must be a model change: a token change (the snapshot holds the
            # tokens) or an edit made with plain SQL needs the whole catalog read again.
            if len({rev for rev, _ in found}) != revision - since or any(
                model_id is None for _, model_id in found
            ):
                return None
            changes_made = [(rev, model_id) for rev, model_id in found if model_id is not None]
            ids = sorted({model_id for _, model_id in changes_made})
            rows = (await conn.execute(select(*PUBLIC_COLUMNS).where(Model.id.in_(ids)))).all()
            prices = await read_prices(conn, ids)
    return Delta(revision, changes_made, cast(list[ModelRow], rows), prices)


async def model_changes_between(
    conn: AsyncConnection, after: int, until: int
) -> list[tuple[int, str]]:
    """The model changes after revision `after`, oldest first."""
    return [
        (rev, model_id)
        for rev, model_id in await changes.changes_between(conn, after, until)
        if model_id is not None
    ]


async def active_tokens(conn: AsyncConnection) -> Sequence[Row[str, str, str, str]]:
    """id, secret hash, role and name of every token not revoked."""
    result = await conn.execute(
        select(ApiToken.id, ApiToken.secret_hash, ApiToken.role, ApiToken.name).where(
            ApiToken.revoked_at.is_(None)
        )
    )
    return result.all()
