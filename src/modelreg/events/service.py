"""Webhook subscriptions: create, change, remove, replay. Every change is audited (without the
secret) through `record_change`; a new subscription starts at the current catalog revision."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.config import get_settings
from modelreg.events import repository
from modelreg.events.exceptions import SubscriptionNotFound
from modelreg.events.models import WebhookAttempt, WebhookSubscription
from modelreg.events.schemas import SECRET_PREFIX, WebhookCreate, WebhookPatch
from modelreg.events.targets import check_target
from modelreg.exceptions import ValidationFailed


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _audited(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "webhook_id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.event_types),
        "active": subscription.is_active,
    }


async def _check(url: str) -> None:
    await check_target(url, allow_private=get_settings().webhooks.allow_private_targets)


async def create_subscription(
    session: AsyncSession, data: WebhookCreate, actor: Actor
) -> WebhookSubscription:
    """A new subscription; it receives the events of changes committed after this one."""
    await _check(data.url)
    subscription = WebhookSubscription(
        id=f"wh_{secrets.token_hex(12)}",
        url=data.url,
        event_types=sorted({e.value for e in data.events}),
        secret=data.secret or new_secret(),
        is_active=data.active,
        created_by=actor.name,
    )
    await repository.add(session, subscription)
    await record_change(
        session, actor=actor, action="webhook_create", reason=None, after=_audited(subscription)
    )
    subscription.cursor_revision = await audit_repository.current_revision(session)
    await session.flush()
    return subscription


async def list_subscriptions(session: AsyncSession) -> Sequence[WebhookSubscription]:
    return await repository.all_subscriptions(session)


async def get_subscription(
    session: AsyncSession, subscription_id: str, *, for_update: bool = False
) -> WebhookSubscription:
    subscription = await repository.get(session, subscription_id, for_update=for_update)
    if subscription is None:
        raise SubscriptionNotFound(subscription_id)
    return subscription


async def patch_subscription(
    session: AsyncSession, subscription_id: str, patch: WebhookPatch, actor: Actor
) -> WebhookSubscription:
    """Change the URL, the event types or whether it is active. Setting it active clears a
    failing state: delivery resumes at once from the message that failed."""
    subscription = await get_subscription(session, subscription_id, for_update=True)
    if patch.url is not None:
        await _check(patch.url)
        subscription.url = patch.url
    if patch.events is not None:
        subscription.event_types = sorted({e.value for e in patch.events})
        subscription.cursor_part = 0
    if patch.active is not None:
        subscription.is_active = patch.active
        if patch.active:
            subscription.failing_since = None
            subscription.retrying_since = None
            subscription.attempts = 0
            subscription.next_attempt_at = None
    await repository.touch(session, subscription)
    await record_change(
        session, actor=actor, action="webhook_update", reason=None, after=_audited(subscription)
    )
    return subscription


async def delete_subscription(session: AsyncSession, subscription_id: str, actor: Actor) -> None:
    if not await repository.remove(session, subscription_id):
        raise SubscriptionNotFound(subscription_id)
    await record_change(
        session,
        actor=actor,
        action="webhook_delete",
        reason=None,
        after={"webhook_id": subscription_id},
    )


async def replay(
    session: AsyncSession, subscription_id: str, since: int, actor: Actor
) -> WebhookSubscription:
    """Send the events of revisions `since` and later again (with their original ids)."""
    subscription = await get_subscription(session, subscription_id, for_update=True)
    current = await audit_repository.current_revision(session)
    if since > current + 1:
        raise ValidationFailed(
            [{"path": "$.since", "message": f"the catalog is at revision {current}"}]
        )
    await repository.rewind(session, subscription_id, since)
    await record_change(
        session,
        actor=actor,
        action="webhook_replay",
        reason=None,
        after={"webhook_id": subscription_id, "since": since},
    )
    await session.refresh(subscription)
    return subscription


async def attempts(
    session: AsyncSession, subscription_id: str, *, after_id: int | None, limit: int
) -> Sequence[WebhookAttempt]:
    await get_subscription(session, subscription_id)
    return await repository.attempts(session, subscription_id, after_id=after_id, limit=limit)


async def recent_attempts(
    session: AsyncSession, subscription_id: str, *, limit: int
) -> Sequence[WebhookAttempt]:
    """The latest delivery attempts of a subscription, newest first."""
    await get_subscription(session, subscription_id)
    return await repository.recent_attempts(session, subscription_id, limit)


async def last_attempts(session: AsyncSession) -> dict[str, WebhookAttempt]:
    """Each subscription's latest delivery attempt, by subscription id."""
    return await repository.last_attempts(session)
