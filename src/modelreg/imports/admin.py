"""The admin API of imports (`/admin/v1/imports`): make a plan from an uploaded list or a URL,
read it, apply it (a stale plan: 409)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from modelreg.auth.dependencies import Editor, Viewer, actor_for
from modelreg.db.session import Session
from modelreg.imports import service
from modelreg.imports.models import ImportPlan
from modelreg.imports.plan import has_changes
from modelreg.imports.sources import SourceName, read_bytes, within_limit
from modelreg.responses import ExactJSONResponse, ExactJSONRoute

router = APIRouter(prefix="/admin/v1/imports", tags=["admin: imports"], route_class=ExactJSONRoute)


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    allow_large_changes: bool = False


def plan_view(row: ImportPlan) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "revision": row.catalog_revision,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "created_by": row.created_by,
        "applied_at": row.applied_at.isoformat() if row.applied_at else None,
        "applied_by": row.applied_by,
        "has_changes": has_changes(row.plan),
        "plan": row.plan,
    }


@router.post("", status_code=201, response_class=ExactJSONResponse)
async def create_plan(
    request: Request,
    principal: Editor,
    db: Session,
    source: SourceName,
    url: Annotated[str | None, Query(description="fetch the list from here")] = None,
    provider: Annotated[list[str], Query(description="repeatable")] = [],  # noqa: B006
    only: Annotated[list[str], Query(description="repeatable")] = [],  # noqa: B006
) -> ExactJSONResponse:
    """Plan an import of the list in the request body (the document as it is), or of the list
    at `url`. The plan is kept with an id and the catalog revision it was made at."""
    if url is not None:
        body = await run_in_threadpool(read_bytes, url=url)
    else:
        body = within_limit(await request.body())
    row = await service.make_kept_plan(
        db,
        source,
        body,
        created_by=actor_for(principal, request).name,
        providers=provider,
        only=only,
        origin=url,
    )
    return ExactJSONResponse(
        plan_view(row), status_code=201, headers={"Location": f"/admin/v1/imports/{row.id}"}
    )


@router.get("/{plan_id}", response_class=ExactJSONResponse)
async def get_plan(plan_id: str, principal: Viewer, db: Session) -> ExactJSONResponse:
    return ExactJSONResponse(plan_view(await service.kept_plan(db, plan_id)))


@router.post("/{plan_id}/apply", response_class=ExactJSONResponse)
async def apply_plan(
    plan_id: str, body: ApplyRequest, principal: Editor, db: Session, request: Request
) -> ExactJSONResponse:
    """Apply exactly that plan, all or nothing: 409 `stale_plan` when a model it touches changed
    since (naming them), 409 `large_changes` unless `allow_large_changes`."""
    actor = actor_for(principal, request)
    row, counts = await service.apply_kept_plan(
        db,
        plan_id,
        reason=body.reason,
        allow_large_changes=body.allow_large_changes,
        request_id=actor.request_id,
        applied_by=actor.name,
    )
    return ExactJSONResponse({**plan_view(row), "applied": counts})
