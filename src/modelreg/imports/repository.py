"""The SQL of imports: the catalog as a plan compares it, and the versions an apply checks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from modelreg.audit.repository import current_revision
from modelreg.catalog.models import Model
from modelreg.imports.models import ImportPlan
from modelreg.imports.plan import CatalogRow


async def catalog_rows(session: AsyncSession) -> tuple[int, list[CatalogRow]]:
    """Every model with its version, and the catalog revision they are at."""
    revision = await current_revision(session)
    result = await session.execute(
        select(
            Model.id,
            Model.version,
            Model.provider,
            Model.is_legacy,
            Model.is_archived,
            Model.meta,
        ).order_by(Model.id)
    )
    rows = [
        CatalogRow(
            id=r.id,
            version=r.version,
            provider=r.provider,
            is_legacy=r.is_legacy,
            is_archived=r.is_archived,
            meta=r.meta,
        )
        for r in result
    ]
    return revision, rows


async def lock_versions(session: AsyncSession, ids: Collection[str]) -> dict[str, int]:
    """The current version of each of `ids` that exists, the rows locked (in id order, so
    two applies never deadlock) until the transaction ends."""
    if not ids:
        return {}
    result = await session.execute(
        select(Model.id, Model.version)
        .where(Model.id.in_(sorted(ids)))
        .order_by(Model.id)
        .with_for_update()
    )
    return {r.id: r.version for r in result}


async def versions(session: AsyncSession, ids: Collection[str]) -> dict[str, int]:
    """The current version of each of `ids` that exists (no lock)."""
    if not ids:
        return {}
    result = await session.execute(select(Model.id, Model.version).where(Model.id.in_(ids)))
    return {r.id: r.version for r in result}


async def add_plan(session: AsyncSession, plan: ImportPlan) -> None:
    session.add(plan)
    await session.flush()


async def get_plan(
    session: AsyncSession, plan_id: str, *, for_update: bool = False
) -> ImportPlan | None:
    query = select(ImportPlan).where(ImportPlan.id == plan_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True)
class PlanListing:
    """A kept plan without its groups: who made it, when, at which revision, its counts."""

    id: str
    source: str
    created_at: datetime
    created_by: str
    catalog_revision: int
    applied_at: datetime | None
    applied_by: str | None
    summary: dict[str, int]


async def recent_plans(session: AsyncSession, limit: int) -> list[PlanListing]:
    """The kept plans, newest first (their groups are not read)."""
    result = await session.execute(
        select(
            ImportPlan.id,
            ImportPlan.source,
            ImportPlan.created_at,
            ImportPlan.created_by,
            ImportPlan.catalog_revision,
            ImportPlan.applied_at,
            ImportPlan.applied_by,
            ImportPlan.plan["summary"].label("summary"),
        )
        .order_by(ImportPlan.created_at.desc(), ImportPlan.id)
        .limit(limit)
    )
    return [
        PlanListing(
            id=r.id,
            source=r.source,
            created_at=r.created_at,
            created_by=r.created_by,
            catalog_revision=r.catalog_revision,
            applied_at=r.applied_at,
            applied_by=r.applied_by,
            summary=dict(r.summary) if isinstance(r.summary, dict) else {},
        )
        for r in result
    ]


async def try_sync_lock(conn: AsyncConnection, key: int) -> bool:
    """The scheduled sync's session-level advisory lock, if no other instance holds it."""
    return bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))


async def release_sync_lock(conn: AsyncConnection, key: int) -> None:
    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
