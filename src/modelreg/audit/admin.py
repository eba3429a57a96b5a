"""History and audit over HTTP: versions of a model, revert, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request

from modelreg.audit import repository
from modelreg.audit.schemas import AuditEventOut, ModelVersionOut
from modelreg.auth.dependencies import Admin, Viewer, actor_for
from modelreg.catalog import service as catalog_service
from modelreg.catalog.admin import MODEL_RESPONSES, model_response
from modelreg.catalog.schemas import RevertRequest
from modelreg.db.session import Session
from modelreg.exceptions import NotFound
from modelreg.responses import ExactJSONResponse, ExactJSONRoute, parse_if_match

router = APIRouter(prefix="/admin/v1", tags=["admin: history"], route_class=ExactJSONRoute)


def _version_view(version: object) -> dict[str, object]:
    return ModelVersionOut.model_validate(version, from_attributes=True).model_dump(mode="python")


@router.get(
    "/models/{model_id}/history",
    response_class=ExactJSONResponse,
    responses={200: {"model": list[ModelVersionOut]}},
)
async def history(model_id: str, principal: Viewer, db: Session) -> ExactJSONResponse:
    """Every version of the model, oldest first: who, when, what action, why, and the diff."""
    await catalog_service.get_model(db, model_id)
    versions = await repository.versions(db, model_id)
    return ExactJSONResponse({"data": [_version_view(v) for v in versions]})


@router.get(
    "/models/{model_id}/history/{number}",
    response_class=ExactJSONResponse,
    responses={200: {"model": ModelVersionOut}},
)
async def history_version(
    model_id: str,
    number: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: Viewer,
    db: Session,
) -> ExactJSONResponse:
    version = await repository.version(db, model_id, number)
    if version is None:
        raise NotFound(f"model {model_id!r} has no version {number}")
    return ExactJSONResponse(_version_view(version))


@router.post(
    "/models/{model_id}/revert", response_class=ExactJSONResponse, responses=MODEL_RESPONSES
)
async def revert(
    model_id: str,
    body: RevertRequest,
    principal: Admin,
    db: Session,
    request: Request,
    if_match: Annotated[str | None, Header()] = None,
) -> ExactJSONResponse:
    """Make version `to_version` current again, as a new version."""
    model = await catalog_service.revert_model(
        db,
        model_id,
        body.to_version,
        actor_for(principal, request),
        if_match=parse_if_match(if_match),
        reason=body.reason,
    )
    return model_response(model)


@router.get(
    "/audit", response_class=ExactJSONResponse, responses={200: {"model": list[AuditEventOut]}}
)
async def audit_log(
    principal: Viewer,
    db: Session,
    model: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExactJSONResponse:
    """Audit events, oldest first, paginated by id (`after` = the last id you saw)."""
    events = await repository.events(
        db,
        repository.AuditFilter(
            model_id=model,
            actor=actor,
            action=action,
            since=since,
            until=until,
            after_id=after,
            limit=limit + 1,
        ),
    )
    page = list(events[:limit])
    data = [
        AuditEventOut.model_validate(e, from_attributes=True).model_dump(mode="python")
        for e in page
    ]
    return ExactJSONResponse(
        {
            "data": data,
            "has_more": len(events) > limit,
            "next_after": page[-1].id if len(events) > limit else None,
        }
    )
