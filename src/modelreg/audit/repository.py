"""All SQL of the audit trail and version history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.models import AuditEvent, ModelVersion


async def add_event(session: AsyncSession, event: AuditEvent) -> AuditEvent:
    session.add(event)
    await session.flush()
    return event


async def add_version(session: AsyncSession, version: ModelVersion) -> None:
    session.add(version)
    await session.flush()


async def versions(session: AsyncSession, model_id: str) -> Sequence[ModelVersion]:
    result = await session.execute(
        select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.version)
    )
    return result.scalars().all()


async def version(session: AsyncSession, model_id: str, number: int) -> ModelVersion | None:
    return await session.get(ModelVersion, (model_id, number))


@dataclass(frozen=True)
class AuditFilter:
    model_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    limit: int = 100


async def events(session: AsyncSession, f: AuditFilter) -> Sequence[AuditEvent]:
    query: Select[AuditEvent] = select(AuditEvent)
    if f.model_id is not None:
        query = query.where(AuditEvent.model_id == f.model_id)
    if f.actor is not None:
        query = query.where(AuditEvent.actor == f.actor)
    if f.action is not None:
        query = query.where(AuditEvent.action == f.action)
    if f.since is not None:
        query = query.where(AuditEvent.occurred_at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.occurred_at < f.until)
    if f.after_id is not None:
        query = query.where(AuditEvent.id > f.after_id)
    return (await session.scalars(query.order_by(AuditEvent.id).limit(f.limit))).all()
