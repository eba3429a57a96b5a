"""The admin API for models (`/admin/v1/models`): create, list, read, JSON Merge Patch, each
model's history and revert, and its dated prices (history, scheduling, cancelling)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import ModelVersionOut
from modelreg.auth.dependencies import Admin, Editor, Viewer, actor_for
from modelreg.catalog import prices, service
from modelreg.catalog.schemas import AdminModelOut, ModelCreate, RevertRequest, admin_view, etag
from modelreg.db.session import Session
from modelreg.exceptions import NotFound, echo
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import MAX_LIMIT, CapabilityMatch, ListParams, SortKey, SortOrder
from modelreg.responses import ExactJSONResponse, ExactJSONRoute, parse_if_match

router = APIRouter(prefix="/admin/v1/models", tags=["admin: models"], route_class=ExactJSONRoute)

IfMatch = Annotated[
    str | None, Header(description='The ETag you read ("<version>"); 412 if it changed since')
]
MODEL_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"model": AdminModelOut}}


def model_response(model: Any, status_code: int = 200) -> ExactJSONResponse:
    return ExactJSONResponse(
        admin_view(model), status_code=status_code, headers={"ETag": etag(model)}
    )


@router.post(
    "", status_code=201, response_class=ExactJSONResponse, responses={201: {"model": AdminModelOut}}
)
async def create_model(
    body: ModelCreate, principal: Editor, db: Session, request: Request
) -> ExactJSONResponse:
    """Add a model. Credits are computed from the prices unless given (then they are pinned)."""
    model = await service.create_model(db, body, actor_for(principal, request))
    response = model_response(model, 201)
    response.headers["Location"] = f"/admin/v1/models/{model.id}"
    return response


@router.get("", response_class=ExactJSONResponse)
async def list_models(
    principal: Viewer,
    db: Session,
    provider: str | None = None,
    capability: Annotated[list[str], Query()] = [],  # noqa: B006
    capability_match: CapabilityMatch = CapabilityMatch.ALL,
    tier: str | None = None,
    max_credits_per_1k: Annotated[Decimal | None, Query(ge=0)] = None,
    state: Annotated[list[LifecycleState], Query()] = [],  # noqa: B006
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: SortKey = SortKey.ID,
    order: SortOrder = SortOrder.ASC,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    after: Annotated[str | None, Query(max_length=1000)] = None,
) -> ExactJSONResponse:
    """Every model in every state (archived included), filtered in the database."""
    params = ListParams(
        provider=provider,
        capabilities=tuple(capability),
        capability_match=capability_match,
        tier=tier,
        max_credits_per_1k=max_credits_per_1k,
        states=tuple(state),
        q=q,
        sort=sort,
        order=order,
        limit=limit,
        after=after,
    )
    models, next_after = await service.list_models_page(db, params)
    return ExactJSONResponse(
        {
            "data": [admin_view(m) for m in models],
            "has_more": next_after is not None,
            "next_after": next_after,
        }
    )


@router.get("/{model_id}", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def get_model(model_id: str, principal: Viewer, db: Session) -> ExactJSONResponse:
    return model_response(await service.get_model(db, model_id))


@router.patch("/{model_id}", response_class=ExactJSONResponse, responses=MODEL_RESPONSES)
async def patch_model(
    model_id: str,
    principal: Editor,
    db: Session,
    request: Request,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="RFC 7396 merge patch over name, provider, is_available and meta",
        ),
    ],
    if_match: IfMatch = None,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> ExactJSONResponse:
    """Change a model; the merged result is validated as a whole. null removes a meta key."""
    model = await service.patch_model(
        db,
        model_id,
        patch,
        actor_for(principal, request),
        if_match=parse_if_match(if_match),
        reason=reason,
    )
    return model_response(model)


def _version_view(version: object) -> dict[str, object]:
    return ModelVersionOut.model_validate(version, from_attributes=True).model_dump(mode="python")


@router.get(
    "/{model_id}/history",
    response_class=ExactJSONResponse,
    responses={200: {"model": list[ModelVersionOut]}},
    tags=["admin: history"],
)
async def history(model_id: str, principal: Viewer, db: Session) -> ExactJSONResponse:
    """Every version of the model, oldest first: who, when, what action, why, and the diff."""
    await service.get_model(db, model_id)
    versions = await audit_repository.versions(db, model_id)
    return ExactJSONResponse({"data": [_version_view(v) for v in versions]})


@router.get(
    "/{model_id}/history/{number}",
    response_class=ExactJSONResponse,
    responses={200: {"model": ModelVersionOut}},
    tags=["admin: history"],
)
async def history_version(
    model_id: str,
    number: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: Viewer,
    db: Session,
) -> ExactJSONResponse:
    version = await audit_repository.version(db, model_id, number)
    if version is None:
        raise NotFound(f"model {echo(model_id)!r} has no version {number}")
    return ExactJSONResponse(_version_view(version))


@router.post(
    "/{model_id}/revert",
    response_class=ExactJSONResponse,
    responses=MODEL_RESPONSES,
    tags=["admin: history"],
)
async def revert(
    model_id: str,
    body: RevertRequest,
    principal: Admin,
    db: Session,
    request: Request,
    if_match: IfMatch = None,
) -> ExactJSONResponse:
    """Make version `to_version` current again, as a new version."""
    model = await service.revert_model(
        db,
        model_id,
        body.to_version,
        actor_for(principal, request),
        if_match=parse_if_match(if_match),
        reason=body.reason,
    )
    return model_response(model)


@router.get("/{model_id}/prices", response_class=ExactJSONResponse, tags=["admin: prices"])
async def price_history(model_id: str, principal: Viewer, db: Session) -> ExactJSONResponse:
    """The model's price history in the order its entries take effect, scheduled changes
    included: the USD prices and credits, from when (`effectiveFrom`), recorded by whom and
    when, and each entry's `status` now (past, current, scheduled, cancelled)."""
    return ExactJSONResponse({"data": await prices.price_history(db, model_id)})


@router.post(
    "/{model_id}/prices",
    status_code=201,
    response_class=ExactJSONResponse,
    tags=["admin: prices"],
)
async def schedule_price(
    model_id: str,
    principal: Editor,
    db: Session,
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            description="effectiveFrom (ISO 8601, in the future), some of"
            " inputCostUsdPerMillionTokens, outputCostUsdPerMillionTokens, creditsPer1kTokens,"
            " inputCreditsPer1kTokens, outputCreditsPer1kTokens, creditsPinned, and a reason",
        ),
    ],
) -> ExactJSONResponse:
    """Schedule a price change: from `effectiveFrom` on the model charges these prices.
    Credits are computed from the prices unless given (then pinned) or pinned already; fields
    not given keep the values in force just before. Today's prices change with PATCH."""
    entry = await prices.schedule_price(db, model_id, body, actor_for(principal, request))
    return ExactJSONResponse(
        entry,
        status_code=201,
        headers={"Location": f"/admin/v1/models/{model_id}/prices/{entry['id']}"},
    )


@router.delete(
    "/{model_id}/prices/{price_id}", response_class=ExactJSONResponse, tags=["admin: prices"]
)
async def cancel_price(
    model_id: str,
    price_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: Editor,
    db: Session,
    request: Request,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> ExactJSONResponse:
    """Cancel a scheduled price change that has not taken effect (it stays in the history,
    cancelled); 409 once it has."""
    entry = await prices.cancel_price(
        db, model_id, price_id, actor_for(principal, request), reason=reason
    )
    return ExactJSONResponse(entry)
