"""Record a change: its audit event, the model's new version (for a model change), the catalog
revision bump and the NOTIFY, all in the caller's transaction. Every write of modelreg (model
edits, lifecycle actions, token changes, migrations) goes through `record_change`, or through
`record_changes` for many changes made together (an import), so nothing changes unrecorded and
nothing is recorded unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository
from modelreg.audit.diff import field_diff
from modelreg.audit.models import AuditEvent, ModelVersion
from modelreg.audit.schemas import Actor
from modelreg.db.session import mark_catalog_changed


@dataclass(frozen=True)
class Change:
    """One change to record. A model change names the model, its new version and its state
    before and after (the version history keeps `after`); any other change gives only `after`,
    what it did."""

    action: str
    model_id: str | None = None
    version: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


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

    A schema migration is announced but not `audited`: the audit log is the catalog's history
    (and the outbox of its events), while `alembic_version` is the schema's; an audit row would
    also stop a later downgrade below the revision that adds the log.
    """
    if not audited:
        await session.flush()
        revision = await repository.bump_revision(session)
        await repository.notify(session, revision, None)
        mark_catalog_changed(session, revision)
        return None
    [event] = await record_changes(
        session,
        actor=actor,
        reason=reason,
        changes=[Change(action, model_id, version, before, after)],
    )
    return event


async def record_changes(
    session: AsyncSession,
    *,
    actor: Actor,
    reason: str | None,
    changes: Sequence[Change],
) -> list[AuditEvent]:
    """Record changes already applied in this transaction (flushed or pending), in order.

    Each change gets a revision of its own (consecutive, taken with one UPDATE of
    `catalog_state`), its audit event and, for a model change, its model version; the events
    and the versions are each inserted together. One NOTIFY announces the last revision (with
    the model id when every change is of the same model).
    """
    if not changes:
        return []
    await session.flush()
    last = await repository.bump_revision(session, len(changes))
    first = last - len(changes) + 1
    diffs = [field_diff(c.before, c.after) if c.model_id is not None else [] for c in changes]
    events = [
        AuditEvent(
            actor=actor.name,
            action=change.action,
            model_id=change.model_id,
            model_version=change.version,
            catalog_revision=first + index,
            before=change.before,
            after=change.after,
            diff=diff,
            reason=reason,
            request_id=actor.request_id,
        )
        for index, (change, diff) in enumerate(zip(changes, diffs, strict=True))
    ]
    await repository.add_events(session, events)
    versions = [
        ModelVersion(
            model_id=change.model_id,
            version=change.version,
            actor=actor.name,
            action=change.action,
            reason=reason,
            state=change.after,
            diff=diff,
            audit_event_id=event.id,
        )
        for change, diff, event in zip(changes, diffs, events, strict=True)
        if change.model_id is not None and change.version is not None and change.after is not None
    ]
    if versions:
        await repository.add_versions(session, versions)
    models = {change.model_id for change in changes}
    await repository.notify(session, last, models.pop() if len(models) == 1 else None)
    mark_catalog_changed(session, last)
    return events
