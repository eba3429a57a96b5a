"""The console's pages (`/console/...`). Every read goes through the catalog's services and
repositories, every write through the same services as the admin API (catalog.service,
catalog.transitions, auth.service), with the actor `console:token:<name>`."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.diff import field_diff
from modelreg.audit.schemas import Actor
from modelreg.auth import service as auth_service
from modelreg.auth.dependencies import request_id
from modelreg.auth.exceptions import Unauthorized
from modelreg.auth.roles import Role
from modelreg.catalog import impact as catalog_impact
from modelreg.catalog import prices as catalog_prices
from modelreg.catalog import repository as catalog_repository
from modelreg.catalog import service, transitions
from modelreg.catalog.exceptions import VersionConflict
from modelreg.catalog.schemas import ModelCreate
from modelreg.catalog.versioning import model_state
from modelreg.config import get_settings
from modelreg.console import sessions
from modelreg.console.render import render
from modelreg.console.sessions import SignedIn
from modelreg.console.views import (
    access_matrix,
    advanced_part,
    credits_per_tier,
    days_until,
    field_of,
    make_merge_patch,
    parse_model_form,
    pretty_json,
)
from modelreg.db.session import Session
from modelreg.events.types import SUNSET_APPROACHING_ACTION
from modelreg.exceptions import ModelRegError, ValidationFailed, error_path
from modelreg.lifecycle.states import LifecycleAction, LifecycleState, state_of
from modelreg.listing import CapabilityMatch, ListParams, SortKey, SortOrder
from modelreg.verify.report import build_report

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class ConsoleForbidden(Exception):
    def __init__(self, user: SignedIn, needed: Role):
        super().__init__(f"this needs the {needed} role; you are signed in as {user.role}")
        self.user = user
        self.needed = needed


class CsrfRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Who is asking


async def signed_in(request: Request, db: Session) -> SignedIn:
    user = await sessions.resume(db, request.cookies.get(sessions.COOKIE))
    if user is None:
        await db.commit()  # keep the deletion of an expired or revoked session
        raise SignInRequired()
    request.state.console_user = user
    return user


User = Annotated[SignedIn, Depends(signed_in)]


def needs(user: SignedIn, role: Role) -> None:
    if not user.may(role):
        raise ConsoleForbidden(user, role)


def actor(user: SignedIn, request: Request) -> Actor:
    """The audit actor of a console change: the token's name, and that it came through here."""
    return Actor(name=f"console:{user.principal.name}", request_id=request_id(request))


class Form:
    """A posted urlencoded form (the console posts no files)."""

    def __init__(self, values: dict[str, list[str]]):
        self.values = values

    def get(self, key: str, default: str = "") -> str:
        found = self.values.get(key)
        return found[-1] if found else default

    def all(self, key: str) -> list[str]:
        return list(self.values.get(key, []))

    def single(self) -> dict[str, str]:
        return {key: values[-1] for key, values in self.values.items() if values}


async def read_form(request: Request) -> Form:
    body = (await request.body()).decode("utf-8", errors="replace")
    return Form(parse_qs(body, keep_blank_values=True))


def _origin_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def check_origin(request: Request) -> None:
    """A POST must come from a page of this origin: Origin (or, without it, Referer) must
    name this host."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return  # neither header: the CSRF token alone decides
        parts = referer.split("/")
        origin = "/".join(parts[:3])
    if origin != _origin_of(request):
        raise CsrfRefused(f"a form posted from {origin} is not accepted here")


async def posted(request: Request, user: SignedIn) -> Form:
    """The form of a POST by `user`, once its origin and CSRF token are checked."""
    check_origin(request)
    form = await read_form(request)
    if not secrets.compare_digest(form.get("csrf_token"), user.csrf_token):
        raise CsrfRefused("the form's security token is missing or out of date; reload the page")
    return form


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


# --------------------------------------------------------------------------------------------
# Sign-in and sign-out


@router.get("", include_in_schema=False)
async def home() -> RedirectResponse:
    return redirect("/console/models")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, db: Session) -> Response:
    user = await sessions.resume(db, request.cookies.get(sessions.COOKIE))
    if user is not None:
        return redirect("/console/models")
    return _sign_in_form(request)


def _sign_in_form(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    response = render(
        request, "sign_in.html", None, csrf_token=csrf, error=error, status_code=status_code
    )
    _cookie(response, request, sessions.SIGN_IN_COOKIE, sessions.sign(csrf), 3600)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, db: Session) -> Response:
    check_origin(request)
    form = await read_form(request)
    expected = sessions.unsign(request.cookies.get(sessions.SIGN_IN_COOKIE))
    if expected is None or not secrets.compare_digest(form.get("csrf_token"), expected):
        raise CsrfRefused("the sign-in form is out of date; reload the page")
    presented = form.get("token").strip()
    try:
        await auth_service.authenticate(db, presented)
    except Unauthorized:
        return _sign_in_form(request, "That API token is not valid (unknown or revoked).", 401)
    await sessions.sweep_expired(db)
    token_id = presented.split("_", 2)[1]
    cookie, _ = await sessions.start(db, token_id)
    response = redirect("/console/models")
    _cookie(response, request, sessions.COOKIE, cookie, get_settings().console.session_ttl_s)
    response.delete_cookie(sessions.SIGN_IN_COOKIE, path="/console")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, db: Session, user: User) -> Response:
    await posted(request, user)
    await sessions.end(db, user.session_id)
    response = redirect("/console/sign-in")
    response.delete_cookie(sessions.COOKIE, path="/console")
    return response


# --------------------------------------------------------------------------------------------
# Catalog


def _list_params(request: Request) -> tuple[ListParams, dict[str, Any]]:
    query = request.query_params
    settings = get_settings()
    states = tuple(LifecycleState(s) for s in query.getlist("state") if s in set(LifecycleState))
    capabilities = tuple(c for c in query.getlist("capability") if c in settings.capabilities)
    tier = query.get("tier") or None
    if tier is not None and tier not in settings.tiers:
        tier = None
    sort = query.get("sort", "id")
    order = query.get("order", "asc")
    params = ListParams(
        provider=query.get("provider") or None,
        capabilities=capabilities,
        capability_match=CapabilityMatch.ALL,
        tier=tier,
        states=states,
        q=(query.get("q") or "").strip()[:200] or None,
        sort=SortKey(sort) if sort in set(SortKey) else SortKey.ID,
        order=SortOrder(order) if order in set(SortOrder) else SortOrder.ASC,
        limit=PAGE_SIZE,
        after=query.get("after") or None,
    )
    chosen = {
        "q": params.q or "",
        "provider": params.provider or "",
        "state": [s.value for s in states],
        "capability": list(capabilities),
        "tier": tier or "",
        "sort": params.sort.value,
        "order": params.order.value,
    }
    return params, chosen


def _query(chosen: dict[str, Any], **override: Any) -> str:
    merged = {**chosen, **override}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if isinstance(value, list):
            pairs.extend((key, v) for v in value)
        elif value not in ("", None):
            pairs.append((key, str(value)))
    return "?" + urlencode(pairs)


@router.get("/models", response_class=HTMLResponse)
async def catalog(request: Request, db: Session, user: User) -> Response:
    params, chosen = _list_params(request)
    settings = get_settings()
    try:
        models, next_after = await service.list_models_page(db, params, default_limit=PAGE_SIZE)
    except ValidationFailed:
        params = dataclasses.replace(params, after=None)  # a stale or foreign cursor
        models, next_after = await service.list_models_page(db, params, default_limit=PAGE_SIZE)
    providers, counts = await service.providers_and_state_counts(db)
    rows = [{"model": m, "meta": m.meta, "state": state_of(m).value} for m in models]

    def sort_link(key: str) -> str:
        flip = "desc" if chosen["sort"] == key and chosen["order"] == "asc" else "asc"
        return _query(chosen, sort=key, order=flip, after="")

    return render(
        request,
        "catalog.html",
        user,
        rows=rows,
        counts=counts,
        total=sum(counts.values()),
        chosen=chosen,
        providers=providers,
        settings=settings,
        states=[s.value for s in LifecycleState],
        sort_link=sort_link,
        next_link=_query(chosen, after=next_after) if next_after else None,
        first_link=_query(chosen, after="") if params.after else None,
        can_edit=user.may(Role.EDITOR),
    )


# --------------------------------------------------------------------------------------------
# Model


@router.get("/models/new", response_class=HTMLResponse)
async def new_model_page(request: Request, user: User) -> Response:
    needs(user, Role.EDITOR)
    return _form_page(request, user, model=None, values=_blank_values(), errors={})


@router.get("/models/{model_id}", response_class=HTMLResponse)
async def model_page(request: Request, db: Session, user: User, model_id: str) -> Response:
    settings = get_settings()
    model = await service.get_model(db, model_id)
    meta = model.meta
    chain = await _replacement_chain(db, model)
    versions = list(await audit_repository.versions(db, model_id))
    versions.reverse()
    replaced = await catalog_repository.models_replaced_by(db, model_id)
    price_history = await catalog_prices.price_history(db, model_id)
    upcoming = [entry for entry in price_history if entry["status"] == "scheduled"]
    return render(
        request,
        "model.html",
        user,
        model=model,
        meta=meta,
        state=state_of(model).value,
        tier_credits=credits_per_tier(meta, settings),
        access=access_matrix(meta, settings.tiers),
        chain=chain,
        sunset_days=days_until(meta.get("sunsetDate")),
        provider_metadata=meta.get("providerMetadata", {}),
        unknown={k: v for k, v in advanced_part(meta).items() if k != "providerMetadata"},
        versions=versions,
        replaced_by=replaced,
        price_history=list(reversed(price_history)),
        next_price=upcoming[0] if upcoming else None,
        can_edit=user.may(Role.EDITOR),
        can_revert=user.may(Role.ADMIN),
    )


@router.post("/models/{model_id}/prices", response_class=HTMLResponse)
async def schedule_price(request: Request, db: Session, user: User, model_id: str) -> Response:
    """Schedule a price change from the model page's form (the admin API's rules)."""
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    body: dict[str, Any] = {"effectiveFrom": form.get("effective_from").strip() or None}
    for field, key in (
        ("input", "inputCostUsdPerMillionTokens"),
        ("output", "outputCostUsdPerMillionTokens"),
    ):
        value = form.get(field).strip()
        if value:
            try:
                body[key] = Decimal(value)
            except InvalidOperation:
                return _action_error(
                    request, user, model_id, f"{key}: not a number: {value!r}", status_code=422
                )
    reason = form.get("reason").strip()
    if reason:
        body["reason"] = reason
    try:
        await catalog_prices.schedule_price(db, model_id, body, actor(user, request))
    except ModelRegError as exc:
        await db.rollback()
        return _action_error(request, user, model_id, exc.message, status_code=exc.status_code)
    return redirect(f"/console/models/{model_id}#h-price-history")


@router.post("/models/{model_id}/prices/{price_id}/cancel", response_class=HTMLResponse)
async def cancel_price(
    request: Request, db: Session, user: User, model_id: str, price_id: int
) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    try:
        await catalog_prices.cancel_price(
            db,
            model_id,
            price_id,
            actor(user, request),
            reason=form.get("reason").strip() or None,
        )
    except ModelRegError as exc:
        await db.rollback()
        return _action_error(request, user, model_id, exc.message, status_code=exc.status_code)
    return redirect(f"/console/models/{model_id}#h-price-history")


async def _replacement_chain(db: AsyncSession, model: Any) -> list[str]:
    """The replacements one after another (each model read once; stops at a repeat)."""
    chain: list[str] = []
    seen = {model.id}
    current = model.meta.get("legacyReplacementModelId")
    while isinstance(current, str) and current not in seen and len(chain) < 50:
        chain.append(current)
        seen.add(current)
        following = await catalog_repository.get(db, current)
        current = following.meta.get("legacyReplacementModelId") if following else None
    return chain


def _blank_values() -> dict[str, Any]:
    settings = get_settings()
    return {
        "id": "",
        "name": "",
        "provider": "",
        "is_available": True,
        "displayName": "",
        "description": "",
        "version_label": "",
        "capabilities": ["text"],
        "contextLength": "",
        "maxOutputTokens": "",
        "inputCostUsdPerMillionTokens": "",
        "outputCostUsdPerMillionTokens": "",
        "creditsPinned": False,
        "creditsPer1kTokens": "",
        "inputCreditsPer1kTokens": "",
        "outputCreditsPer1kTokens": "",
        "requiredTier": settings.tiers[0],
        "tierRestrictionMode": "minimum",
        "allowedTiers": [],
        "internalNotes": "",
        "complianceTags": "",
        "advanced": '{\n  "providerMetadata": {}\n}',
        "reason": "",
        "row_version": "",
    }


def _values_of(model: Any) -> dict[str, Any]:
    meta = model.meta
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "is_available": model.is_available,
        "displayName": meta.get("displayName", ""),
        "description": meta.get("description", ""),
        "version_label": meta.get("version", ""),
        "capabilities": list(meta.get("capabilities", [])),
        "contextLength": meta.get("contextLength", ""),
        "maxOutputTokens": meta.get("maxOutputTokens", ""),
        "inputCostUsdPerMillionTokens": meta.get("inputCostUsdPerMillionTokens", ""),
        "outputCostUsdPerMillionTokens": meta.get("outputCostUsdPerMillionTokens", ""),
        "creditsPinned": bool(meta.get("creditsPinned", False)),
        "creditsPer1kTokens": meta.get("creditsPer1kTokens", ""),
        "inputCreditsPer1kTokens": meta.get("inputCreditsPer1kTokens", ""),
        "outputCreditsPer1kTokens": meta.get("outputCreditsPer1kTokens", ""),
        "requiredTier": meta.get("requiredTier", ""),
        "tierRestrictionMode": meta.get("tierRestrictionMode", "minimum"),
        "allowedTiers": list(meta.get("allowedTiers", [])),
        "internalNotes": meta.get("internalNotes", ""),
        "complianceTags": ", ".join(meta.get("complianceTags", [])),
        "advanced": pretty_json(advanced_part(meta)),
        "reason": "",
        "row_version": model.version,
    }


def _posted_values(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = dict(form.single())
    values["is_available"] = form.get("is_available") == "on"
    values["creditsPinned"] = form.get("creditsPinned") == "on"
    values["capabilities"] = form.all("capabilities")
    values["allowedTiers"] = form.all("allowedTiers")
    return {**_blank_values(), **values}


def _form_page(
    request: Request,
    user: SignedIn,
    *,
    model: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    conflict: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "model_form.html",
        user,
        model=model,
        values=values,
        errors=errors,
        conflict=conflict,
        settings=get_settings(),
        modes=["minimum", "exact", "whitelist"],
        status_code=status_code,
    )


def _errors_by_field(exc: ModelRegError) -> dict[str, str]:
    """Each message next to its field; an error that names no field goes with the form."""
    if not isinstance(exc, ValidationFailed):
        return {"form": exc.message}
    errors: dict[str, str] = {}
    for error in exc.errors:
        name = field_of(str(error.get("path", "")))
        message = str(error.get("message", "invalid")).removeprefix("Value error, ")
        errors[name] = f"{errors[name]}; {message}" if name in errors else message
    return errors


@router.get("/models/{model_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    model = await service.get_model(db, model_id)
    return _form_page(request, user, model=model, values=_values_of(model), errors={})


@router.post("/models/new", response_class=HTMLResponse)
async def create(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    values = _posted_values(form)
    parsed = parse_model_form(form.single(), form.values, {})
    errors = dict(parsed.errors)
    if not form.get("reason").strip():
        errors["reason"] = "say why (it goes into the audit log)"
    if errors:
        return _form_page(request, user, model=None, values=values, errors=errors, status_code=422)
    try:
        data = ModelCreate.model_validate(
            {
                "id": form.get("id").strip(),
                **parsed.top,
                "meta": parsed.meta,
                "reason": form.get("reason"),
            }
        )
    except ValidationError as exc:
        failed = ValidationFailed(
            [
                {"path": error_path(e["loc"]), "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
        )
        return _form_page(
            request,
            user,
            model=None,
            values=values,
            errors=_errors_by_field(failed),
            status_code=422,
        )
    try:
        model = await service.create_model(db, data, actor(user, request))
    except ModelRegError as exc:
        await db.rollback()
        return _form_page(
            request,
            user,
            model=None,
            values=values,
            errors=_errors_by_field(exc),
            status_code=exc.status_code,
        )
    return redirect(f"/console/models/{model.id}")


@router.post("/models/{model_id}/edit", response_class=HTMLResponse)
async def edit(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    model = await service.get_model(db, model_id)
    values = _posted_values(form)
    values["id"] = model_id
    parsed = parse_model_form(form.single(), form.values, model.meta)
    errors = dict(parsed.errors)
    reason = form.get("reason").strip()
    if not reason:
        errors["reason"] = "say why (it goes into the audit log)"
    try:
        loaded = int(form.get("row_version"))
    except ValueError:
        loaded = model.version
        values["row_version"] = model.version
    if errors:
        return _form_page(request, user, model=model, values=values, errors=errors, status_code=422)
    patch = make_merge_patch(
        {
            "name": model.name,
            "provider": model.provider,
            "is_available": model.is_available,
            "meta": model.meta,
        },
        {**parsed.top, "meta": parsed.meta},
    )
    try:
        changed = await service.patch_model(
            db, model_id, patch, actor(user, request), if_match=loaded, reason=reason
        )
    except VersionConflict:
        await db.rollback()
        current = await service.get_model(db, model_id)
        conflict = await _changes_since(db, current, loaded)
        values["row_version"] = current.version
        return _form_page(
            request,
            user,
            model=current,
            values=values,
            errors={},
            conflict=conflict,
            status_code=412,
        )
    except ModelRegError as exc:
        await db.rollback()
        return _form_page(
            request,
            user,
            model=await service.get_model(db, model_id),
            values=values,
            errors=_errors_by_field(exc)
            if isinstance(exc, ValidationFailed)
            else {"form": exc.message},
            status_code=exc.status_code,
        )
    return redirect(f"/console/models/{changed.id}")


async def _changes_since(db: AsyncSession, current: Any, loaded: int) -> dict[str, Any]:
    """What changed between the version the form was loaded at and the current one."""
    then = await audit_repository.version(db, current.id, loaded)
    before = then.state if then is not None else None
    versions = [v for v in await audit_repository.versions(db, current.id) if v.version > loaded]
    return {
        "loaded": loaded,
        "current": current.version,
        "diff": field_diff(before, model_state(current)) if before is not None else [],
        "by": sorted({v.actor for v in versions}),
    }


# --------------------------------------------------------------------------------------------
# Revert


@router.get("/models/{model_id}/revert", response_class=HTMLResponse)
async def revert_page(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.ADMIN)
    model = await service.get_model(db, model_id)
    try:
        to = int(request.query_params.get("to", ""))
    except ValueError:
        to = 0
    target = await audit_repository.version(db, model_id, to)
    if target is None:
        return render(
            request,
            "error.html",
            user,
            status_code=404,
            title="Not found",
            message=f"model {model_id!r} has no version {to}",
        )
    return render(
        request,
        "revert.html",
        user,
        model=model,
        target=target,
        diff=field_diff(model_state(model), target.state),
        error=None,
    )


@router.post("/models/{model_id}/revert", response_class=HTMLResponse)
async def revert(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.ADMIN)
    form = await posted(request, user)
    reason = form.get("reason").strip()
    try:
        to = int(form.get("to_version"))
        loaded = int(form.get("row_version"))
    except ValueError:
        return _action_error(request, user, model_id, "the form is incomplete; reload the page")
    if not reason:
        return _action_error(request, user, model_id, "a reason is required", status_code=422)
    try:
        await service.revert_model(
            db, model_id, to, actor(user, request), if_match=loaded, reason=reason
        )
    except ModelRegError as exc:
        await db.rollback()
        return _action_error(request, user, model_id, exc.message, status_code=exc.status_code)
    return redirect(f"/console/models/{model_id}")


def _action_error(
    request: Request, user: SignedIn, model_id: str, message: str, status_code: int = 400
) -> Response:
    return render(
        request,
        "error.html",
        user,
        status_code=status_code,
        title="Not done",
        message=message,
        back=f"/console/models/{model_id}",
    )


# --------------------------------------------------------------------------------------------
# Lifecycle


@router.get("/models/{model_id}/mark-legacy", response_class=HTMLResponse)
async def mark_legacy_page(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    model = await service.get_model(db, model_id)
    query = request.query_params
    chosen = query.get("replacement") or ""
    preview = None
    error = None
    if chosen:
        try:
            preview = await catalog_impact.impact(db, model_id, chosen)
        except ModelRegError as exc:
            error = exc.message
    return render(
        request,
        "mark_legacy.html",
        user,
        model=model,
        choices=await catalog_impact.valid_replacements(db, model_id),
        values={
            "replacement": chosen,
            "notice": query.get("notice", ""),
            "sunset": query.get("sunset", ""),
            "reason": query.get("reason", ""),
        },
        preview=preview,
        error=error,
        errors={},
    )


@router.post("/models/{model_id}/mark-legacy", response_class=HTMLResponse)
async def mark_legacy(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    return await _transition(
        request,
        db,
        user,
        model_id,
        form,
        LifecycleAction.MARK_LEGACY,
        replacement_model_id=form.get("replacement").strip() or None,
        deprecation_notice=form.get("notice").strip() or None,
        sunset_date=form.get("sunset").strip() or None,
    )


@router.post("/models/{model_id}/unmark-legacy", response_class=HTMLResponse)
async def unmark_legacy(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    return await _transition(request, db, user, model_id, form, LifecycleAction.UNMARK_LEGACY)


@router.get("/models/{model_id}/archive", response_class=HTMLResponse)
async def archive_page(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    model = await service.get_model(db, model_id)
    return render(
        request,
        "archive.html",
        user,
        model=model,
        replaced_by=await catalog_repository.models_replaced_by(db, model_id),
        error=None,
        reason="",
    )


@router.post("/models/{model_id}/archive", response_class=HTMLResponse)
async def archive(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    return await _transition(
        request, db, user, model_id, form, LifecycleAction.ARCHIVE, force=form.get("force") == "on"
    )


@router.post("/models/{model_id}/unarchive", response_class=HTMLResponse)
async def unarchive(request: Request, db: Session, user: User, model_id: str) -> Response:
    needs(user, Role.EDITOR)
    form = await posted(request, user)
    return await _transition(request, db, user, model_id, form, LifecycleAction.UNARCHIVE)


async def _transition(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    model_id: str,
    form: Form,
    action: LifecycleAction,
    **details: Any,
) -> Response:
    reason = form.get("reason").strip()
    if not reason:
        return _action_error(request, user, model_id, "a reason is required", status_code=422)
    try:
        loaded = int(form.get("row_version"))
    except ValueError:
        loaded = None
    if details.get("sunset_date"):
        details["sunset_date"] = _sunset(str(details["sunset_date"]))
    try:
        await transitions.transition(
            db, model_id, action, actor(user, request), reason=reason, if_match=loaded, **details
        )
    except ModelRegError as exc:
        await db.rollback()
        return _action_error(request, user, model_id, exc.message, status_code=exc.status_code)
    return redirect(f"/console/models/{model_id}")


def _sunset(text: str) -> str:
    """A date input's value (YYYY-MM-DD) is stored as it is; anything else is left to the
    service to judge."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return text


# --------------------------------------------------------------------------------------------
# Audit log


def _day(text: str | None, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(request: Request, db: Session, user: User) -> Response:
    query = request.query_params
    chosen = {
        "model": query.get("model", "").strip(),
        "actor": query.get("actor", "").strip(),
        "action": query.get("action", "").strip(),
        "since": query.get("since", ""),
        "until": query.get("until", ""),
    }
    try:
        after = int(query.get("after", "")) if query.get("after") else None
    except ValueError:
        after = None
    events = await audit_repository.events(
        db,
        audit_repository.AuditFilter(
            model_id=chosen["model"] or None,
            actor=chosen["actor"] or None,
            action=chosen["action"] or None,
            since=_day(chosen["since"]),
            until=_day(chosen["until"], end=True),
            after_id=after,
            limit=AUDIT_PAGE_SIZE + 1,
        ),
    )
    page = list(events[:AUDIT_PAGE_SIZE])
    more = len(events) > AUDIT_PAGE_SIZE
    return render(
        request,
        "audit.html",
        user,
        events=page,
        chosen=chosen,
        actions=[
            *(a.value for a in LifecycleAction),
            "create",
            "update",
            "revert",
            "import",
            "catalog.imported",
            "import.sync",
            SUNSET_APPROACHING_ACTION,
            "seed",
            "token_create",
            "token_revoke",
            "webhook_create",
            "webhook_update",
            "webhook_delete",
            "webhook_replay",
        ],
        next_link=_query(chosen, after=page[-1].id) if more and page else None,
        first_link=_query(chosen) if after is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Tokens


@router.get("/tokens", response_class=HTMLResponse)
async def tokens_page(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.ADMIN)
    return await _tokens(request, db, user)


async def _tokens(
    request: Request,
    db: AsyncSession,
    user: SignedIn,
    *,
    secret: str | None = None,
    created: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "tokens.html",
        user,
        tokens=list(await auth_service.list_tokens(db)),
        roles=[r.value for r in Role],
        secret=secret,
        created=created,
        error=error,
        status_code=status_code,
    )


@router.post("/tokens", response_class=HTMLResponse)
async def create_token(request: Request, db: Session, user: User) -> Response:
    needs(user, Role.ADMIN)
    form = await posted(request, user)
    name = form.get("name").strip()
    role = form.get("role")
    if not name or role not in set(Role):
        return await _tokens(
            request, db, user, error="give the token a name and a role", status_code=422
        )
    token, plaintext = await auth_service.create_token(
        db, name=name, role=Role(role), actor=actor(user, request)
    )
    return await _tokens(request, db, user, secret=plaintext, created=token.name)


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(request: Request, db: Session, user: User, token_id: str) -> Response:
    needs(user, Role.ADMIN)
    await posted(request, user)
    await auth_service.revoke_token(db, token_id, actor(user, request))
    await sessions.end_for_token(db, token_id)
    if token_id == user.token_id:
        response = redirect("/console/sign-in")
        response.delete_cookie(sessions.COOKIE, path="/console")
        return response
    return redirect("/console/tokens")


# --------------------------------------------------------------------------------------------
# Health


@router.get("/health", response_class=HTMLResponse)
async def health(request: Request, db: Session, user: User) -> Response:
    store: Any = request.app.state.snapshot
    listener: Any = getattr(request.app.state, "listener", None)
    engine: Any = request.app.state.sessionmaker.kw["bind"]
    report = None
    report_error = None
    try:
        async with engine.connect() as conn:
            report = await conn.run_sync(build_report)
    except Exception as exc:  # the page must render when the database does not answer
        report_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return render(
        request,
        "health.html",
        user,
        revision=store.revision,
        age=store.age_seconds() if store.current is not None else None,
        models=len(store.current.view.models) if store.current is not None else 0,
        database_ok=store.database_ok,
        listener_ok=listener is not None and listener.connected,
        report=report,
        report_error=report_error,
    )


def install_handlers(app: Any) -> None:
    """Console errors as pages: no session -> sign-in, wrong role -> 403, a refused form ->
    403; a modelreg error on a console page -> its page (elsewhere, problem+json as before)."""
    previous: Callable[[Request, Exception], Awaitable[Response]] = app.exception_handlers[
        ModelRegError
    ]

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        return redirect("/console/sign-in")

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleForbidden)
        return render(
            request,
            "error.html",
            exc.user,
            status_code=403,
            title="Not allowed",
            message=str(exc),
        )

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfRefused)
        user = getattr(request.state, "console_user", None)
        return render(
            request,
            "error.html",
            user,
            status_code=403,
            title="Form refused",
            message=exc.reason,
        )

    async def modelreg_error(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/console"):
            return await previous(request, exc)
        assert isinstance(exc, ModelRegError)
        user = getattr(request.state, "console_user", None)
        return render(
            request,
            "error.html",
            user,
            status_code=exc.status_code,
            title="Not found" if exc.status_code == 404 else "Error",
            message=exc.message,
        )

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(ConsoleForbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(ModelRegError, modelreg_error)
