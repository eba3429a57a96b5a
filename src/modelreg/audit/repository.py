"""All SQL of the change log: audit events, model versions and the catalog revision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from modelreg.audit.models import AuditEvent, CatalogState, ModelVersion

# The one channel every recorded change is announced on. Its payload is
# "<revision>:<model id or empty>:<commit time, epoch seconds>" (the time lets listeners
# measure their lag; a model id may itself contain ":").
NOTIFY_CHANNEL = "modelreg_catalog"
# For listeners on a plain psycopg connection (they hold no SQLAlchemy session).
CURRENT_REVISION_SQL = "SELECT revision FROM catalog_state"


async def bump_revision(session: AsyncSession, count: int = 1) -> int:
    """Take the next `count` catalog revisions; the last of them. The single-row UPDATE also
    orders concurrent changes: revisions are never reused."""
    result = await session.execute(
        text(
            "UPDATE catalog_state SET revision = revision + :count, changed_at = now()"
            " RETURNING revision"
        ),
        {"count": count},
    )
    return int(result.scalar_one())


async def notify(session: AsyncSession, revision: int, model_id: str | None) -> None:
    """Announce a revision; PostgreSQL delivers it only if the transaction commits."""
    await session.execute(
        text("SELECT pg_notify(:channel, :prefix || extract(epoch FROM clock_timestamp())::text)"),
        {"channel": NOTIFY_CHANNEL, "prefix": f"{revision}:{model_id or ''}:"},
    )


async def change_log_exists(session: AsyncSession) -> bool:
    """Whether the schema has the change log yet (a database below 0007_admin has not)."""
    found = await session.execute(
        text(
            "SELECT to_regclass('catalog_state') IS NOT NULL"
            " AND to_regclass('audit_events') IS NOT NULL"
        )
    )
    return bool(found.scalar_one())


async def current_revision(conn: AsyncConnection | AsyncSession) -> int:
    return int((await conn.execute(select(CatalogState.revision))).scalar_one())


async def changes_between(
    conn: AsyncConnection, after: int, until: int
) -> list[tuple[int, str | None]]:
    """(revision, model id or None for a change that is not a model's) after `after`."""
    rows = await conn.execute(
        select(AuditEvent.catalog_revision, AuditEvent.model_id)
        .where(AuditEvent.catalog_revision > after, AuditEvent.catalog_revision <= until)
        .order_by(AuditEvent.catalog_revision)
    )
    return [(int(r[0] or 0), None if r[1] is None else str(r[1])) for r in rows]


async def events_after_revision(
    session: AsyncSession, after: int, until: int, limit: int
) -> Sequence[AuditEvent]:
    """Audit events of revisions in (after, until], oldest first (the outbox of the catalog's
    events: revisions commit in order, so nothing can appear later below `until`)."""
    rows = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.catalog_revision > after, AuditEvent.catalog_revision <= until)
        .order_by(AuditEvent.catalog_revision)
        .limit(limit)
    )
    return rows.all()


async def latest_model_changes(
    conn: AsyncConnection, until: int, keep: int
) -> list[tuple[int, str]]:
    """The `keep` most recent model changes up to `until`, oldest first."""
    rows = await conn.execute(
        select(AuditEvent.catalog_revision, AuditEvent.model_id)
        .where(AuditEvent.model_id.is_not(None), AuditEvent.catalog_revision <= until)
        .order_by(AuditEvent.catalog_revision.desc())
        .limit(keep)
    )
    return sorted((int(r[0] or 0), str(r[1])) for r in rows)


async def last_unrecorded_revision(conn: AsyncConnection, after: int, until: int) -> int | None:
    """The latest revision in (after, until] with no audit event (an edit made with plain SQL):
    nothing before it can be named from the log."""
    found = await conn.execute(
        text(
            "SELECT max(r) FROM generate_series(CAST(:after AS bigint) + 1, :until) AS r"
            " WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE catalog_revision = r)"
        ),
        {"after": after, "until": until},
    )
    gap = found.scalar()
    return None if gap is None else int(gap)


async def add_events(session: AsyncSession, events: Sequence[AuditEvent]) -> None:
    """Insert the events in order (one multi-row INSERT ... RETURNING for many); their ids
    are set."""
    session.add_all(events)
    await session.flush()


async def add_versions(session: AsyncSession, versions: Sequence[ModelVersion]) -> None:
    session.add_all(versions)
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
