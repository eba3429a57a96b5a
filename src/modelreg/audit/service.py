"""Record a change: the model's new version, its audit event, its history entry, the catalog
revision bump and the NOTIFY, all in the caller's transaction (nothing changes unrecorded,
nothing is recorded unchanged)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository
from modelreg.audit.diff import field_diff
from modelreg.audit.models import AuditEvent, ModelVersion
from modelreg.audit.schemas import Actor
from modelreg.catalog import repository as catalog_repository
from modelreg.catalog.models import Model
from modelreg.catalog.state import model_state


async def record_model_change(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    model: Model,
    before: dict[str, Any] | None,
    reason: str | None,
) -> AuditEvent:
    """Write the audit trail of a change already applied to `model` (flushed or pending).

    The model's version must already be the new one.
    """
    await session.flush()
    session.info["catalog_changed"] = True
    after = model_state(model)
    diff = field_diff(before, after)
    revision = await catalog_repository.bump_revision(session, model.id)
    event = await repository.add_event(
        session,
        AuditEvent(
            actor=actor.name,
            action=action,
            model_id=model.id,
            model_version=model.version,
            catalog_revision=revision,
            before=before,
            after=after,
            diff=diff,
            reason=reason,
            request_id=actor.request_id,
        ),
    )
    await repository.add_version(
        session,
        ModelVersion(
            model_id=model.id,
            version=model.version,
            actor=actor.name,
            action=action,
            reason=reason,
            state=after,
            diff=diff,
            audit_event_id=event.id,
        ),
    )
    return event


async def record_event(
    session: AsyncSession, *, actor: Actor, action: str, detail: dict[str, Any], reason: str | None
) -> AuditEvent:
    """An audited action that is not a model change (tokens, seeding)."""
    return await repository.add_event(
        session,
        AuditEvent(
            actor=actor.name,
            action=action,
            after=detail,
            diff=[],
            reason=reason,
            request_id=actor.request_id,
        ),
    )
