"""Lifecycle actions over HTTP: mark-legacy, unmark-legacy, archive, unarchive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from modelreg.auth.dependencies import Editor, Viewer, actor_for
from modelreg.auth.roles import Principal
from modelreg.catalog import impact
from modelreg.catalog import transitions as service
from modelreg.catalog.admin import MODEL_RESPONSES, model_response
from modelreg.catalog.schemas import admin_view, etag
from modelreg.db.session import Session
from modelreg.lifecycle.schemas import ArchiveRequest, MarkLegacyRequest, Reason
from modelreg.lifecycle.states import LifecycleAction
from modelreg.responses import ExactJSONResponse, ExactJSONRoute, parse_if_match

router = APIRouter(
    prefix="/admin/v1/models/{model_id}", tags=["admin: lifecycle"], route_class=ExactJSONRoute
)
IfMatch = Annotated[str | None, Header()]


async def _act(
    action: LifecycleAction,
    model_id: str,
    body: Reason,
    principal: Principal,
    db: Session,
    request: Request,
    if_match: str | None,
    **details: Any,
) -> ExactJSONResponse:
    model = await service.transition(
        db,
        model_id,
        action,
        actor_for(principal, request),
        reason=body.reason,
        if_match=parse_if_match(if_match),
        **details,
    )
    return model_response(model)


@router.post("/mark-legacy", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def mark_legacy(
    model_id: str,
    body: MarkLegacyRequest,
    principal: Editor,
    db: Session,
    request: Request,
    if_match: IfMatch = None,
) -> ExactJSONResponse:
    """active -> legacy, with an optional replacement, notice and sunset date. The answer is
    the model with `replacement_impact` (null without a replacement)."""
    model = await service.transition(
        db,
        model_id,
        LifecycleAction.MARK_LEGACY,
        actor_for(principal, request),
        reason=body.reason,
        if_match=parse_if_match(if_match),
        replacement_model_id=body.replacement_model_id,
        deprecation_notice=body.deprecation_notice,
        sunset_date=body.sunset_date,
    )
    view = admin_view(model)
    view["replacement_impact"] = (
        await impact.impact(db, model_id, body.replacement_model_id)
        if body.replacement_model_id is not None
        else None
    )
    return ExactJSONResponse(view, headers={"ETag": etag(model)})


@router.get("/replacement-impact", response_class=ExactJSONResponse)
async def replacement_impact(
    model_id: str,
    principal: Viewer,
    db: Session,
    replacement: Annotated[str, Query(min_length=1, max_length=100)],
) -> ExactJSONResponse:
    """What users of this model would gain and lose on `replacement`: input and output price
    change in %, capabilities lost, context and max-output change, tiers that lose access.
    422 when mark-legacy would refuse the replacement."""
    return ExactJSONResponse(await impact.impact(db, model_id, replacement))


@router.post("/unmark-legacy", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def unmark_legacy(
    model_id: str,
    body: Reason,
    principal: Editor,
    db: Session,
    request: Request,
    if_match: IfMatch = None,
) -> ExactJSONResponse:
    """legacy -> active; the legacy information is cleared."""
    return await _act(
        LifecycleAction.UNMARK_LEGACY, model_id, body, principal, db, request, if_match
    )


@router.post("/archive", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def archive(
    model_id: str,
    body: ArchiveRequest,
    principal: Editor,
    db: Session,
    request: Request,
    if_match: IfMatch = None,
) -> ExactJSONResponse:
    """active | legacy -> archived (no longer served). Refused while other models name it as
    their replacement, unless force is true."""
    return await _act(
        LifecycleAction.ARCHIVE,
        model_id,
        body,
        principal,
        db,
        request,
        if_match,
        force=body.force,
    )


@router.post("/unarchive", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def unarchive(
    model_id: str,
    body: Reason,
    principal: Editor,
    db: Session,
    request: Request,
    if_match: IfMatch = None,
) -> ExactJSONResponse:
    """archived -> legacy (if it was) or active, with the availability it had before."""
    return await _act(LifecycleAction.UNARCHIVE, model_id, body, principal, db, request, if_match)
