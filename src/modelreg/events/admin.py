"""The admin API of webhook subscriptions (`/admin/v1/webhooks`, admin role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from modelreg.auth.dependencies import Admin, actor_for
from modelreg.db.session import Session
from modelreg.events import service
from modelreg.events.schemas import (
    AttemptOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
    attempt_view,
    subscription_view,
)
from modelreg.responses import ExactJSONResponse, ExactJSONRoute

router = APIRouter(
    prefix="/admin/v1/webhooks", tags=["admin: webhooks"], route_class=ExactJSONRoute
)
ONE: dict[int | str, dict[str, Any]] = {200: {"model": WebhookOut}}


@router.post(
    "",
    status_code=201,
    response_class=ExactJSONResponse,
    responses={201: {"model": WebhookCreated}},
)
async def create_webhook(
    body: WebhookCreate, principal: Admin, db: Session, request: Request
) -> ExactJSONResponse:
    """Subscribe a URL to event types. The answer holds the signing secret: it is not shown
    again."""
    subscription = await service.create_subscription(db, body, actor_for(principal, request))
    view = subscription_view(subscription)
    view["secret"] = subscription.secret
    return ExactJSONResponse(
        view, status_code=201, headers={"Location": f"/admin/v1/webhooks/{subscription.id}"}
    )


@router.get("", response_class=ExactJSONResponse, responses={200: {"model": list[WebhookOut]}})
async def list_webhooks(principal: Admin, db: Session) -> ExactJSONResponse:
    subscriptions = await service.list_subscriptions(db)
    return ExactJSONResponse({"data": [subscription_view(s) for s in subscriptions]})


@router.get("/{webhook_id}", response_class=ExactJSONResponse, responses=ONE)
async def get_webhook(webhook_id: str, principal: Admin, db: Session) -> ExactJSONResponse:
    return ExactJSONResponse(subscription_view(await service.get_subscription(db, webhook_id)))


@router.patch("/{webhook_id}", response_class=ExactJSONResponse, responses=ONE)
async def patch_webhook(
    webhook_id: str, body: WebhookPatch, principal: Admin, db: Session, request: Request
) -> ExactJSONResponse:
    """Change the URL, the event types, or `active` (true also clears a failing state)."""
    subscription = await service.patch_subscription(
        db, webhook_id, body, actor_for(principal, request)
    )
    return ExactJSONResponse(subscription_view(subscription))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: str, principal: Admin, db: Session, request: Request
) -> Response:
    await service.delete_subscription(db, webhook_id, actor_for(principal, request))
    return Response(status_code=204)


@router.post("/{webhook_id}/replay", response_class=ExactJSONResponse, responses=ONE)
async def replay_webhook(
    webhook_id: str,
    principal: Admin,
    db: Session,
    request: Request,
    since: Annotated[int, Query(ge=1, le=2**63 - 1)],
) -> ExactJSONResponse:
    """Send the events of revision `since` and later again, in order, with their original
    `webhook-id`s."""
    subscription = await service.replay(db, webhook_id, since, actor_for(principal, request))
    return ExactJSONResponse(subscription_view(subscription))


@router.get(
    "/{webhook_id}/attempts",
    response_class=ExactJSONResponse,
    responses={200: {"model": list[AttemptOut]}},
)
async def webhook_attempts(
    webhook_id: str,
    principal: Admin,
    db: Session,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExactJSONResponse:
    """Delivery attempts, oldest first: status, latency, response code, error."""
    found = await service.attempts(db, webhook_id, after_id=after, limit=limit + 1)
    page = list(found[:limit])
    return ExactJSONResponse(
        {
            "data": [attempt_view(a) for a in page],
            "has_more": len(found) > limit,
            "next_after": page[-1].id if len(found) > limit else None,
        }
    )
