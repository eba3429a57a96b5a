"""A model's versioned state: the row fields a version holds and restores, and the new version
of a change recorded through `audit.service.record_change` (`record_changes` for many). A
change of a model's prices or credits also adds an entry to its price history (`model_prices`),
in force from now."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import InvalidOperation
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import Change, record_changes
from modelreg.catalog.models import Model, ModelPrice
from modelreg.pricing.schedule import Prices, same_prices

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
    scheduled_price: bool = False,
) -> None:
    """Record the change that brought `model` to its current version. A change of its prices
    is entered in its price history, in force from now (the transaction's time), unless it is
    a scheduled entry of that history taking effect (`scheduled_price`)."""
    change = model_change(model, action=action, before=before)
    await record_model_changes(
        session, [change], actor=actor, reason=reason, scheduled_price=scheduled_price
    )


async def record_model_changes(
    session: AsyncSession,
    changes: Sequence[Change],
    *,
    actor: Actor,
    reason: str | None,
    scheduled_price: bool = False,
) -> None:
    """Record model changes made together (each taken with `model_change`), in order; each
    that changes prices adds its entry to the price history (see `record_model_change`)."""
    events = await record_changes(session, actor=actor, reason=reason, changes=changes)
    if scheduled_price:
        return
    entries = [
        ModelPrice(
            model_id=change.model_id,
            effective_from=func.now(),
            **prices.columns(),
            scheduled=False,
            recorded_by=actor.name,
            reason=reason,
            audit_event_id=event.id,
        )
        for change, event in zip(changes, events, strict=True)
        if (prices := _changed_prices(change)) is not None
    ]
    if entries:
        session.add_all(entries)
        await session.flush()


def _changed_prices(change: Change) -> Prices | None:
    """The prices `change` brought, if it changed them (and they are valid prices)."""
    previous = (change.before or {}).get("meta")
    current = (change.after or {}).get("meta")
    if not isinstance(current, dict):
        return None
    if same_prices(previous if isinstance(previous, dict) else None, current):
        return None
    return prices_of_meta(current)  # None for a meta without valid prices (a legacy row)


def prices_of_meta(meta: dict[str, Any]) -> Prices | None:
    try:
        return Prices.of_meta(meta)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
