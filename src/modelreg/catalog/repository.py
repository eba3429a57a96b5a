"""All SQL of the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.models import Model


def insert_missing(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose id is not in the table yet; return how many were inserted."""
    if not rows:
        return 0
    statement = insert(Model).values(list(rows)).on_conflict_do_nothing(index_elements=["id"])
    return conn.execute(statement.returning(Model.id)).rowcount


async def list_served(session: AsyncSession) -> Sequence[Model]:
    """Every model that is not archived, by id."""
    result = await session.execute(
        select(Model).where(Model.is_archived.is_(False)).order_by(Model.id)
    )
    return result.scalars().all()


async def get(session: AsyncSession, model_id: str) -> Model | None:
    return await session.get(Model, model_id)
