"""A model's versioned state: the row fields a version holds and restores, and the new version
of a change recorded through `audit.service.record_change` (`record_changes` for many)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import Change, record_changes
from modelreg.catalog.models import Model

# The row fields a version restores (everything but id, version and timestamps).
STATE_FIELDS = (
    "name",
    "provider",
    "is_available",
    "is_legacy",
    "is_archived",
    "available_before_archive",
    "meta",
)


def model_state(model: Model) -> dict[str, Any]:
    return {field: copy.deepcopy(getattr(model, field)) for field in STATE_FIELDS}


def apply_state(model: Model, state: dict[str, Any]) -> None:
    for field in STATE_FIELDS:
        setattr(model, field, copy.deepcopy(state[field]))


def next_version(model: Model) -> None:
    """A changed model: the next row version, stamped now."""
    model.version += 1
    model.updated_at = datetime.now(UTC)


def model_change(model: Model, *, action: str, before: dict[str, Any] | None) -> Change:
    """The change that brought `model` to its current version, its state taken now."""
    return Change(
        action=action,
        model_id=model.id,
        version=model.version,
        before=before,
        after=model_state(model),
    )


async def record_model_change(
    session: AsyncSession,
    model: Model,
    *,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None,
    reason: str | None,
) -> None:
    """Record the change that brought `model` to its current version."""
    change = model_change(model, action=action, before=before)
    await record_changes(session, actor=actor, reason=reason, changes=[change])


async def record_model_changes(
    session: AsyncSession, changes: Sequence[Change], *, actor: Actor, reason: str | None
) -> None:
    """Record model changes made together (each taken with `model_change`), in order."""
    await record_changes(session, actor=actor, reason=reason, changes=changes)
