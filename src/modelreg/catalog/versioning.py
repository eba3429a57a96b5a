"""A model's versioned state: the row fields a version holds and restores, and the new version
of a change recorded through `audit.service.record_change`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
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
    await record_change(
        session,
        actor=actor,
        action=action,
        reason=reason,
        model_id=model.id,
        version=model.version,
        before=before,
        after=model_state(model),
    )
