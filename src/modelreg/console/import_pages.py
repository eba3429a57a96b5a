"""The console's import pages (`/console/imports`): make a plan from an uploaded list or a URL,
review it group by group, apply it. Plans are made, kept and applied by `imports.service`, the
same functions as the admin API's; editors make and apply plans, viewers read them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from modelreg.audit import repository as audit_repository
from modelreg.auth.roles import Role
from modelreg.console.pages import (
    CsrfRefused,
    User,
    actor,
    check_origin,
    needs,
    posted,
    redirect,
)
from modelreg.console.render import render
from modelreg.console.sessions import SignedIn
from modelreg.db.session import Session
from modelreg.exceptions import ModelRegError
from modelreg.imports import service
from modelreg.imports.exceptions import LargeChanges, StalePlan
from modelreg.imports.models import ImportPlan
from modelreg.imports.plan import ACTIONS, GROUPS, has_changes
from modelreg.imports.sources import MAX_SOURCE_BYTES, SourceName, read_bytes, within_limit

router = APIRouter(prefix="/console", include_in_schema=False)

RECENT_PLANS = 20
GROUP_TITLES = {
    "add": "Add",
    "change": "Change",
    "deprecate": "Deprecate",
    "vanished": "Vanished",
    "kept": "Kept",
    "skipped": "Skipped",
    "unmappable": "Unmappable",
}
GROUP_HINTS = {
    "add": "Upstream entries no model is linked to: created (unavailable unless configured).",
    "change": "Linked models whose upstream facts differ, field by field.",
    "deprecate": "Linked models upstream deprecates: marked legacy.",
    "vanished": "Models this source added that it no longer lists: proposed legacy.",
    "kept": "Differences an admin locked (importLocks, pinned credits): never changed.",
    "skipped": "Entries not taken (not chat, duplicates, archived models ...).",
    "unmappable": "Entries that cannot be mapped, with the reason.",
}


def _blank() -> dict[str, Any]:
    return {"source": SourceName.LITELLM.value, "url": "", "provider": ""}


def _providers(text: str) -> list[str]:
    return [p for p in (part.strip() for part in text.replace(",", " ").split()) if p]


async def _imports_page(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "imports.html",
        user,
        plans=list(await service.recent_plans(db, RECENT_PLANS)),
        sources=[s.value for s in SourceName],
        values=values or _blank(),
        errors=errors or {},
        can_plan=user.may(Role.EDITOR),
        max_mb=MAX_SOURCE_BYTES // (1024 * 1024),
        status_code=status_code,
    )


@router.get("/imports", response_class=HTMLResponse)
async def imports_page(request: Request, db: Session, user: User) -> Response:
    return await _imports_page(request, db, user)


@dataclass(frozen=True)
class Upload:
    """A posted plan form: its text fields, and the uploaded file's bytes (None: no file)."""

    fields: dict[str, str]
    body: bytes | None


async def _posted_upload(request: Request, user: SignedIn) -> Upload:
    """The multipart form (with a file) of a POST by `user`, once its origin and CSRF token
    are checked; a file larger than a source may be is refused."""
    check_origin(request)
    async with request.form(max_files=1, max_fields=20) as form:
        token = form.get("csrf_token")
        if not isinstance(token, str) or not secrets.compare_digest(token, user.csrf_token):
            raise CsrfRefused(
                "the form's security token is missing or out of date; reload the page"
            )
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        upload = form.get("file")
        body = None
        if isinstance(upload, UploadFile) and upload.filename:
            body = await upload.read(MAX_SOURCE_BYTES + 1)
    return Upload(fields, body)


@router.post("/imports", response_class=HTMLResponse)
async def make_plan(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.EDITOR)
    form = await _posted_upload(request, user)
    values = {
        **_blank(),
        **{k: form.fields.get(k, "").strip() for k in ("source", "url", "provider")},
    }
    upload = form.body
    errors: dict[str, str] = {}
    if values["source"] not in set(SourceName):
        errors["source"] = "choose one of " + ", ".join(s.value for s in SourceName)
    url = values["url"] or None
    if upload is None and url is None:
        errors["file"] = "upload the list, or give a URL below"
    elif upload is not None and url is not None:
        errors["url"] = "give a URL or upload a file, not both"
    if errors:
        return await _imports_page(request, db, user, values=values, errors=errors, status_code=422)
    try:
        if upload is not None:
            body = within_limit(upload)
        else:
            body = await run_in_threadpool(read_bytes, url=url)
        row = await service.make_kept_plan(
            db,
            SourceName(values["source"]),
            body,
            created_by=actor(user, request).name,
            providers=_providers(values["provider"]),
            origin=url,
        )
    except ModelRegError as exc:
        await db.rollback()
        where = "url" if url is not None else "file"
        return await _imports_page(
            request,
            db,
            user,
            values=values,
            errors={where: exc.message},
            status_code=exc.status_code,
        )
    return redirect(f"/console/imports/{row.id}")


def _group_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": group,
            "title": GROUP_TITLES[group],
            "hint": GROUP_HINTS[group],
            "entries": list(plan.get(group, [])),
            "acts": group in ACTIONS,
        }
        for group in GROUPS
    ]


async def _review(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    row: ImportPlan,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    stale: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    plan = dict(row.plan)
    if stale is None and row.applied_at is None and has_changes(plan):
        stale = await service.stale_models(db, plan) or None
    return render(
        request,
        "import_plan.html",
        user,
        row=row,
        plan=plan,
        groups=_group_rows(plan),
        changes=has_changes(plan),
        guardrails=service.guardrails(plan),
        current_revision=await audit_repository.current_revision(db),
        values=values or {"reason": "", "allow_large_changes": False},
        errors=errors or {},
        stale=stale,
        can_apply=user.may(Role.EDITOR)
        and row.applied_at is None
        and has_changes(plan)
        and not stale,
        status_code=status_code,
    )


@router.get("/imports/{plan_id}", response_class=HTMLResponse)
async def plan_page(request: Request, db: Session, user: User, plan_id: str) -> Response:
    return await _review(request, db, user, await service.kept_plan(db, plan_id))


@router.post("/imports/{plan_id}/apply", response_class=HTMLResponse)
async def apply_plan(request: Request, db: Session, user: User, plan_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    values: dict[str, Any] = {
        "reason": form.get("reason").strip(),
        "allow_large_changes": form.get("allow_large_changes") == "on",
    }
    reason_error = (
        "say why (it goes into the audit log)"
        if not values["reason"]
        else "at most 2000 characters"
        if len(values["reason"]) > 2000
        else None
    )
    if reason_error is not None:
        row = await service.kept_plan(db, plan_id)
        return await _review(
            request, db, user, row, values=values, errors={"reason": reason_error}, status_code=422
        )
    by = actor(user, request)
    try:
        await service.apply_kept_plan(
            db,
            plan_id,
            reason=values["reason"],
            allow_large_changes=bool(values["allow_large_changes"]),
            request_id=by.request_id,
            applied_by=by.name,
        )
    except ModelRegError as exc:
        await db.rollback()
        row = await service.kept_plan(db, plan_id)
        if isinstance(exc, StalePlan):
            return await _review(
                request,
                db,
                user,
                row,
                values=values,
                stale=list(exc.extra.get("models", [])),
                status_code=exc.status_code,
            )
        where = "allow_large_changes" if isinstance(exc, LargeChanges) else "form"
        message = (
            "the plan makes large changes; tick “Allow large changes” to apply them"
            if isinstance(exc, LargeChanges)
            else exc.message
        )
        return await _review(
            request,
            db,
            user,
            row,
            values=values,
            errors={where: message},
            status_code=exc.status_code,
        )
    return redirect(f"/console/imports/{plan_id}")
