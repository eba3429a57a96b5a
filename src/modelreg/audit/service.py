"""Record a change: its audit event, the model's new version (for a model change), the catalog
revision bump and the NOTIFY, all in the caller's transaction. Every write of modelreg (model
edits, lifecycle actions, token changes, migrations) goes through `record_change`, so nothing
changes unrecorded and nothing is recorded unchanged."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository
from modelreg.audit.diff import field_diff
from modelreg.audit.models import AuditEvent, ModelVersion
from modelreg.audit.schemas import Actor
from modelreg.db.session import mark_catalog_changed


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    reason: str | None,
    model_id: str | None = None,
    version: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    audited: bool = True,
) -> AuditEvent | None:
    """Record a change already applied in this transaction (flushed or pending).

    A model change names the model, its new version and its state before and after (the
    version history keeps `after`); any other change gives only `after`, what it did. A schema
    migration is announced but not `audited`: the audit log is the catalog's history (and the
    outbox of its events), while `alembic_version` is the schema's; an audit row would also
    stop a later downgrade below the revision that adds the log.
    """
    await session.flush()
    revision = await repository.bump_revision(session)
    if not audited:
        await repository.notify(session, revision, None)
        mark_catalog_changed(session)
        return None
    diff = field_diff(before, after) if model_id is not None else []
    event = await repository.add_event(
        session,
        AuditEvent(
            actor=actor.name,
            action=action,
            model_id=model_id,
            model_version=version,
            catalog_revision=revision,
            before=before,
            after=after,
            diff=diff,
            reason=reason,
            request_id=actor.request_id,
        ),
    )
    if model_id is not None and version is not None and after is not None:
        await repository.add_version(
            session,
            ModelVersion(
                model_id=model_id,
                version=version,
                actor=actor.name,
                action=action,
                reason=reason,
                state=after,
                diff=diff,
                audit_event_id=event.id,
            ),
        )
    await repository.notify(session, revision, model_id)
    mark_catalog_changed(session)
    return event
