"""All SQL of webhook subscriptions, their cursors and their delivery attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.models import Model
from modelreg.events.models import SunsetNotice, WebhookAttempt, WebhookSubscription


async def add(session: AsyncSession, subscription: WebhookSubscription) -> WebhookSubscription:
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)
    return subscription


async def get(
    session: AsyncSession, subscription_id: str, *, for_update: bool = False
) -> WebhookSubscription | None:
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def all_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    return (await session.scalars(query)).all()


async def remove(session: AsyncSession, subscription_id: str) -> bool:
    result = await session.execute(
        delete(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .returning(WebhookSubscription.id)
    )
    return result.first() is not None


async def touch(session: AsyncSession, subscription: WebhookSubscription) -> None:
    subscription.updated_at = await now(session)
    await session.flush()


async def now(session: AsyncSession) -> datetime:
    return (await session.execute(select(func.now()))).scalar_one()


def _due() -> tuple[Any, ...]:
    """Active, not failing, not waiting for a retry, and behind the catalog."""
    return (
        WebhookSubscription.is_active,
        WebhookSubscription.failing_since.is_(None),
        (WebhookSubscription.next_attempt_at.is_(None))
        | (WebhookSubscription.next_attempt_at <= func.now()),
        WebhookSubscription.cursor_revision < text("(SELECT revision FROM catalog_state)"),
    )


async def count_due(session: AsyncSession) -> int:
    """How many subscriptions have something to deliver now (held by another instance or not)."""
    query = select(func.count()).select_from(WebhookSubscription).where(*_due())
    return int((await session.execute(query)).scalar_one())


async def claim_due(session: AsyncSession) -> WebhookSubscription | None:
    """Lock one active subscription with something to deliver now; rows another instance holds
    are skipped, so no two instances deliver one subscription's events at once."""
    query = (
        select(WebhookSubscription)
        .where(*_due())
        .order_by(WebhookSubscription.next_attempt_at.nulls_first(), WebhookSubscription.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).one_or_none()


def add_attempt(session: AsyncSession, attempt: WebhookAttempt) -> None:
    """Log an attempt; written with the rest of the delivery round's transaction."""
    session.add(attempt)


async def attempts(
    session: AsyncSession, subscription_id: str, *, after_id: int | None, limit: int
) -> Sequence[WebhookAttempt]:
    query = select(WebhookAttempt).where(WebhookAttempt.subscription_id == subscription_id)
    if after_id is not None:
        query = query.where(WebhookAttempt.id > after_id)
    return (await session.scalars(query.order_by(WebhookAttempt.id).limit(limit))).all()


async def recent_attempts(
    session: AsyncSession, subscription_id: str, limit: int
) -> Sequence[WebhookAttempt]:
    """The latest attempts of a subscription, newest first."""
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.subscription_id == subscription_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def last_attempts(session: AsyncSession) -> dict[str, WebhookAttempt]:
    """Each subscription's latest attempt (one index probe per subscription)."""
    latest = (
        select(WebhookAttempt.id)
        .where(WebhookAttempt.subscription_id == WebhookSubscription.id)
        .order_by(WebhookAttempt.id.desc())
        .limit(1)
        .correlate(WebhookSubscription)
        .scalar_subquery()
    )
    query = select(WebhookAttempt).where(
        WebhookAttempt.id.in_(select(latest).select_from(WebhookSubscription))
    )
    return {a.subscription_id: a for a in (await session.scalars(query)).all()}


async def count_failing(session: AsyncSession) -> int:
    query = select(func.count()).where(WebhookSubscription.failing_since.is_not(None))
    return int((await session.execute(query)).scalar_one())


async def rewind(session: AsyncSession, subscription_id: str, revision: int) -> None:
    """Deliver again from `revision` (inclusive), at once, with the failure state cleared."""
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(
            cursor_revision=revision - 1,
            cursor_part=0,
            attempts=0,
            next_attempt_at=None,
            retrying_since=None,
            failing_since=None,
            last_error=None,
            updated_at=func.now(),
        )
    )


async def notice_sent(session: AsyncSession, notice: SunsetNotice) -> bool:
    """Record a sunset notice; False when it had been sent already."""
    result = await session.execute(
        text(
            "INSERT INTO sunset_notices (model_id, sunset_date, lead_days)"
            " VALUES (:model_id, :sunset_date, :lead_days) ON CONFLICT DO NOTHING"
            " RETURNING model_id"
        ),
        {
            "model_id": notice.model_id,
            "sunset_date": notice.sunset_date,
            "lead_days": notice.lead_days,
        },
    )
    return result.first() is not None


async def sent_notices(session: AsyncSession) -> set[tuple[str, str, int]]:
    rows = await session.execute(
        select(SunsetNotice.model_id, SunsetNotice.sunset_date, SunsetNotice.lead_days)
    )
    return {(str(r[0]), str(r[1]), int(r[2])) for r in rows}


async def sunsetting_models(session: AsyncSession) -> Sequence[Model]:
    """Legacy models not archived yet that have a sunset date."""
    query = (
        select(Model)
        .where(Model.is_legacy, ~Model.is_archived, Model.meta.has_key("sunsetDate"))
        .order_by(Model.id)
    )
    return (await session.scalars(query)).all()


async def try_leadership(session: AsyncSession, key: int) -> bool:
    """Take the advisory lock `key` for this transaction, if no one holds it."""
    found = await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    return bool(found.scalar_one())
