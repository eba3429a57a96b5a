"""The audit log over HTTP (`/admin/v1/audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from modelreg.audit import repository
from modelreg.audit.schemas import AuditEventOut
from modelreg.auth.dependencies import Viewer
from modelreg.db.session import Session
from modelreg.responses import ExactJSONResponse, ExactJSONRoute

router = APIRouter(prefix="/admin/v1", tags=["admin: history"], route_class=ExactJSONRoute)


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
