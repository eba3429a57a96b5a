"""Dated prices: a model's price history, price changes scheduled ahead of their time, their
cancellation, and their taking effect.

- Every change of a model's prices or credits (create, patch, revert, import) enters its price
  history in force from the moment of the change (`catalog.versioning`).
- `schedule_price` records a change that takes effect at `effectiveFrom` (in the future), with
  its credits computed from its prices unless given or pinned, validated as the meta it will
  make. It is audited (`schedule_price`) and bumps the catalog revision, so every instance
  learns of it and serves it from its boundary on (`modelreg.public.snapshot`).
- `apply_due` (the price scheduler's step, `modelreg.events.prices`) writes the scheduled prices
  whose time has come to the models' meta, as `system:price-schedule`: a `model.updated` and
  `model.price_changed` event, a new model version.
- `cancel_price` withdraws a scheduled change before it takes effect (audited, kept in the
  history as cancelled).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.catalog import repository
from modelreg.catalog.exceptions import ModelNotFound
from modelreg.catalog.models import Model, ModelPrice
from modelreg.catalog.service import lock_model, validated_meta
from modelreg.catalog.versioning import (
    model_state,
    next_version,
    prices_of_meta,
    record_model_change,
)
from modelreg.exceptions import ModelRegError, NotFound, ValidationFailed, echo
from modelreg.pricing.schedule import CREDIT_KEYS, USD_KEYS, PriceEntry, Prices, in_force, ordered

log = logging.getLogger(__name__)

PRICE_SCHEDULE_ACTOR = "system:price-schedule"
SCHEDULE_ACTION = "schedule_price"
CANCEL_ACTION = "cancel_price"
# The fields of a scheduled price change besides effectiveFrom and reason.
PRICE_FIELDS = (*USD_KEYS, *CREDIT_KEYS, "creditsPinned")


class PriceAlreadyEffective(ModelRegError):
    status_code = 409
    code = "price_already_effective"

    def __init__(self, model_id: str, entry_id: int, why: str) -> None:
        super().__init__(
            f"price {entry_id} of model {model_id!r} {why}: only a scheduled price that has"
            " not taken effect can be cancelled",
            model_id=model_id,
            price_id=entry_id,
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_moment(value: Any, path: str) -> datetime:
    """An ISO 8601 date-time (UTC when it names no offset); 422 naming `path` otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(
                [{"path": path, "message": "must be an ISO 8601 date-time, e.g. 2027-01-01T00:00Z"}]
            ) from None
    else:
        raise ValidationFailed([{"path": path, "message": "must be an ISO 8601 date-time"}])
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_entries(rows: Sequence[ModelPrice]) -> tuple[PriceEntry, ...]:
    """The entries that count (cancelled ones never take effect), in the order they do."""
    return ordered(
        [
            PriceEntry(
                id=row.id,
                effective_from=row.effective_from,
                prices=Prices.of_row(row),
                pending=row.scheduled and row.applied_at is None,
            )
            for row in rows
            if row.cancelled_at is None
        ]
    )


def entry_view(row: ModelPrice, status: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "modelId": row.model_id,
        "effectiveFrom": row.effective_from.isoformat(),
        "status": status,
        "inputCostUsdPerMillionTokens": row.input_usd,
        "outputCostUsdPerMillionTokens": row.output_usd,
        "creditsPer1kTokens": row.credits_per_1k,
        "inputCreditsPer1kTokens": row.input_credits_per_1k,
        "outputCreditsPer1kTokens": row.output_credits_per_1k,
        "creditsPinned": row.credits_pinned,
        "scheduled": row.scheduled,
        "recordedBy": row.recorded_by,
        "recordedAt": row.recorded_at.isoformat(),
        "reason": row.reason,
        "appliedAt": row.applied_at.isoformat() if row.applied_at else None,
        "cancelledAt": row.cancelled_at.isoformat() if row.cancelled_at else None,
        "cancelledBy": row.cancelled_by,
        "auditEventId": row.audit_event_id,
    }


def statuses(rows: Sequence[ModelPrice], now: datetime) -> dict[int, str]:
    """Each entry's status at `now`: scheduled (still to come), current (in force), past
    (superseded) or cancelled."""
    entries = as_entries(rows)
    current = in_force(entries, now.timestamp())
    found: dict[int, str] = {}
    for row in rows:
        if row.cancelled_at is not None:
            found[row.id] = "cancelled"
        elif row.effective_from > now:
            found[row.id] = "scheduled"
        elif current is not None and row.id == current.id:
            found[row.id] = "current"
        else:
            found[row.id] = "past"
    return found


async def price_history(
    session: AsyncSession, model_id: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """A model's price history, in the order its entries take effect, scheduled ones included."""
    if await repository.get(session, model_id) is None:
        raise ModelNotFound(model_id)
    rows = await repository.prices_of(session, model_id)
    found = statuses(rows, now or utc_now())
    return [entry_view(row, found[row.id]) for row in rows]


async def history_rows(session: AsyncSession, model_id: str) -> Sequence[ModelPrice]:
    return await repository.prices_of(session, model_id)


def _scheduled_prices(
    model: Model, rows: Sequence[ModelPrice], changes: dict[str, Any], effective_from: datetime
) -> Prices:
    """The prices a change makes, applied over the prices in force at its moment (another
    change scheduled for the same moment is refined, the later recorded wins); credits filled
    in (computed unless given or pinned) and the whole validated as the model's meta."""
    meta = dict(model.meta) if isinstance(model.meta, dict) else {}
    before = in_force(as_entries(rows), effective_from.timestamp())
    if before is not None:
        meta.update(before.prices.as_meta())
    previous = dict(meta)
    meta.update(changes)
    try:
        valid = validated_meta(meta, touched=list(changes), previous=previous)
    except ValidationFailed as exc:
        # Name the field as the request has it: no "meta." in front.
        raise ValidationFailed(
            [{**e, "path": str(e["path"]).removeprefix("meta.")} for e in exc.errors]
        ) from None
    prices = prices_of_meta(valid)
    assert prices is not None  # validated: the prices and credits are there
    return prices


async def schedule_price(
    session: AsyncSession,
    model_id: str,
    body: Any,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a price change taking effect at `body["effectiveFrom"]`, which must be later than
    `now`. The other fields are meta price keys (at least one); a missing one keeps the value in
    force just before the change."""
    if not isinstance(body, dict):
        raise ValidationFailed([{"path": "$", "message": "must be a JSON object"}])
    now = now or utc_now()
    allowed = {"effectiveFrom", "reason", *PRICE_FIELDS}
    errors = [
        {"path": key, "message": f"unknown field; give effectiveFrom and some of {PRICE_FIELDS}"}
        for key in sorted(set(body) - allowed)
    ]
    if "effectiveFrom" not in body or body["effectiveFrom"] is None:
        errors.append({"path": "effectiveFrom", "message": "required: when the prices apply"})
    changes = {key: body[key] for key in PRICE_FIELDS if body.get(key) is not None}
    if not changes:
        errors.append({"path": "$", "message": f"give at least one of {', '.join(PRICE_FIELDS)}"})
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        errors.append({"path": "reason", "message": "must be a string of at most 2000 characters"})
    if errors:
        raise ValidationFailed(errors)
    effective_from = parse_moment(body["effectiveFrom"], "effectiveFrom")
    if effective_from <= now:
        raise ValidationFailed(
            [
                {
                    "path": "effectiveFrom",
                    "message": f"must be in the future (now is {now.isoformat()}); today's"
                    " prices change with a patch of the model (PATCH /admin/v1/models/{id},"
                    " `modelreg model patch`)",
                }
            ]
        )
    model = await lock_model(session, model_id, None)
    rows = await repository.prices_of(session, model_id)
    prices = _scheduled_prices(model, rows, changes, effective_from)
    entry = ModelPrice(
        model_id=model_id,
        effective_from=effective_from,
        **prices.columns(),
        scheduled=True,
        recorded_by=actor.name,
        reason=reason,
    )
    entry = await repository.add_price(session, entry)
    view = entry_view(entry, "scheduled")
    event = await record_change(
        session,
        actor=actor,
        action=SCHEDULE_ACTION,
        reason=reason or f"prices from {effective_from.isoformat()}",
        model_id=model_id,
        before=None,
        after={"scheduledPrice": _audited(view)},
    )
    entry.audit_event_id = event.id if event is not None else None
    await session.flush()
    return entry_view(entry, "scheduled")


def _audited(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "effectiveFrom", *PRICE_FIELDS)
    return {key: view[key] for key in keys}


async def cancel_price(
    session: AsyncSession,
    model_id: str,
    entry_id: int,
    actor: Actor,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Withdraw a scheduled price before it takes effect (it stays in the history)."""
    now = now or utc_now()
    await lock_model(session, model_id, None)
    entry = await repository.price_for_update(session, model_id, entry_id)
    if entry is None:
        raise NotFound(f"model {echo(model_id)!r} has no price {entry_id}")
    if entry.cancelled_at is not None:
        raise PriceAlreadyEffective(model_id, entry_id, "is cancelled already")
    if not entry.scheduled or entry.applied_at is not None or entry.effective_from <= now:
        raise PriceAlreadyEffective(model_id, entry_id, "has taken effect")
    entry.cancelled_at = now
    entry.cancelled_by = actor.name
    await session.flush()
    view = entry_view(entry, "cancelled")
    await record_change(
        session,
        actor=actor,
        action=CANCEL_ACTION,
        reason=reason or f"prices from {entry.effective_from.isoformat()} cancelled",
        model_id=model_id,
        before={"scheduledPrice": _audited(view)},
        after=None,
    )
    return view


async def apply_due(session: AsyncSession, now: datetime) -> list[str]:
    """Write every scheduled price whose time has come to its model's meta (each model in a
    savepoint: one that fails is retried at the next run); the ids of the models changed."""
    actor = Actor(name=PRICE_SCHEDULE_ACTOR)
    changed: list[str] = []
    for model_id in await repository.models_with_due_prices(session, now):
        try:
            async with session.begin_nested():
                if await _apply(session, model_id, now, actor):
                    changed.append(model_id)
        except Exception:
            log.warning("scheduled price of %s not applied; retried", model_id, exc_info=True)
    return changed


async def _apply(session: AsyncSession, model_id: str, now: datetime, actor: Actor) -> bool:
    model = await lock_model(session, model_id, None)
    rows = await repository.prices_of(session, model_id)
    current = in_force(as_entries(rows), now.timestamp())
    due = [
        row
        for row in rows
        if row.scheduled
        and row.applied_at is None
        and row.cancelled_at is None
        and row.effective_from <= now
    ]
    for row in due:
        row.applied_at = now  # taken effect, or superseded by a later change
    if current is None or not current.pending:
        await session.flush()
        return False  # a later change (made after the boundary) is the one in force
    before = model_state(model)
    meta = dict(model.meta) if isinstance(model.meta, dict) else {}
    meta.update(current.prices.as_meta())
    model.meta = meta
    if model_state(model) == before:
        await session.flush()
        return False
    next_version(model)
    recorded = next(row for row in due if row.id == current.id)
    await record_model_change(
        session,
        model,
        actor=actor,
        action="update",
        before=before,
        reason=f"scheduled price in force from {current.effective_from.isoformat()}"
        f" (recorded by {recorded.recorded_by})",
        scheduled_price=True,
    )
    return True


async def next_pending(session: AsyncSession) -> datetime | None:
    return await repository.next_pending_price(session)
