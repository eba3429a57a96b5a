"""The console's webhook pages (`/console/webhooks`, admin role): the subscriptions with their
delivery state, create (the signing secret shown once), pause and resume, delete, and a
subscription's recent delivery attempts and replay. Every change goes through
`events.service`, the same functions as the admin API's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.auth.roles import Role
from modelreg.console.pages import User, actor, needs, posted, redirect
from modelreg.console.render import render
from modelreg.console.sessions import SignedIn
from modelreg.db.session import Session
from modelreg.events import service
from modelreg.events.exceptions import TargetRefused
from modelreg.events.schemas import WebhookCreate, WebhookPatch, status_of
from modelreg.events.types import EventType
from modelreg.exceptions import ModelRegError, ValidationFailed

router = APIRouter(prefix="/console", include_in_schema=False)

RECENT_ATTEMPTS = 50
FIELDS = ("url", "events", "secret")


def _blank() -> dict[str, Any]:
    return {"url": "", "events": [], "secret": ""}


async def _list_page(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created: Any = None,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    subscriptions = list(await service.list_subscriptions(db))
    return render(
        request,
        "webhooks.html",
        user,
        subscriptions=[{"s": s, "status": status_of(s)} for s in subscriptions],
        last=await service.last_attempts(db),
        event_types=[e.value for e in EventType],
        values=values or _blank(),
        errors=errors or {},
        created=created,
        secret=secret,
        status_code=status_code,
    )


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.ADMIN)
    return await _list_page(request, db, user)


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        name = str(loc[0]) if loc and str(loc[0]) in FIELDS else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        if name == "events" and error["type"] == "too_short":
            message = "tick at least one event type"
        errors[name] = f"{errors[name]}; {message}" if name in errors else message
    return errors


@router.post("/webhooks", response_class=HTMLResponse)
async def create_webhook(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.ADMIN)
    form = await posted(request, user)
    values = {
        "url": form.get("url").strip(),
        "events": form.all("events"),
        "secret": form.get("secret").strip(),
    }
    try:
        data = WebhookCreate(
            url=values["url"],
            events=values["events"],
            secret=values["secret"] or None,
        )
    except ValidationError as exc:
        values["secret"] = ""
        return await _list_page(
            request, db, user, values=values, errors=_field_errors(exc), status_code=422
        )
    try:
        subscription = await service.create_subscription(db, data, actor(user, request))
    except ModelRegError as exc:
        await db.rollback()
        values["secret"] = ""
        where = "url" if isinstance(exc, TargetRefused) else "form"
        return await _list_page(
            request,
            db,
            user,
            values=values,
            errors={where: exc.message},
            status_code=exc.status_code,
        )
    return await _list_page(
        request, db, user, created=subscription, secret=subscription.secret, status_code=201
    )


async def _detail(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    webhook_id: str,
    *,
    since: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    subscription = await service.get_subscription(db, webhook_id)
    query = request.query_params
    return render(
        request,
        "webhook.html",
        user,
        s=subscription,
        status=status_of(subscription),
        attempts=list(await service.recent_attempts(db, webhook_id, limit=RECENT_ATTEMPTS)),
        limit=RECENT_ATTEMPTS,
        current_revision=await audit_repository.current_revision(db),
        since=since,
        errors=errors or {},
        replayed=query.get("replayed", "") if query.get("replayed", "").isdigit() else "",
        status_code=status_code,
    )


@router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
async def webhook_page(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    needs(user, Role.ADMIN)
    return await _detail(request, db, user, webhook_id)


def _back(form_value: str, webhook_id: str) -> str:
    """Where a pause or resume returns to: the list, or the subscription's page."""
    return "/console/webhooks" if form_value == "list" else f"/console/webhooks/{webhook_id}"


async def _set_active(
    request: Request, db: AsyncSession, user: SignedIn, webhook_id: str, active: bool
) -> Response:
    needs(user, Role.ADMIN)
    form = await posted(request, user)
    await service.patch_subscription(
        db, webhook_id, WebhookPatch(active=active), actor(user, request)
    )
    return redirect(_back(form.get("back"), webhook_id))


@router.post("/webhooks/{webhook_id}/pause")
async def pause_webhook(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    return await _set_active(request, db, user, webhook_id, active=False)


@router.post("/webhooks/{webhook_id}/resume")
async def resume_webhook(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    return await _set_active(request, db, user, webhook_id, active=True)


@router.get("/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
async def delete_page(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    needs(user, Role.ADMIN)
    subscription = await service.get_subscription(db, webhook_id)
    return render(request, "webhook_delete.html", user, s=subscription)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    needs(user, Role.ADMIN)
    await posted(request, user)
    await service.delete_subscription(db, webhook_id, actor(user, request))
    return redirect("/console/webhooks")


@router.post("/webhooks/{webhook_id}/replay", response_class=HTMLResponse)
async def replay_webhook(request: Request, db: Session, user: User, webhook_id: str) -> Response:
    needs(user, Role.ADMIN)
    form = await posted(request, user)
    text = form.get("since").strip()
    try:
        since = int(text)
        if not 1 <= since <= 2**63 - 1:
            raise ValueError
    except ValueError:
        return await _detail(
            request,
            db,
            user,
            webhook_id,
            since=text,
            errors={"since": "a revision number, 1 or more"},
            status_code=422,
        )
    try:
        await service.replay(db, webhook_id, since, actor(user, request))
    except ValidationFailed as exc:
        await db.rollback()
        message = "; ".join(str(e.get("message", "invalid")) for e in exc.errors)
        return await _detail(
            request,
            db,
            user,
            webhook_id,
            since=text,
            errors={"since": message},
            status_code=exc.status_code,
        )
    return redirect(f"/console/webhooks/{webhook_id}?replayed={since}")
