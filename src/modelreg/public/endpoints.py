"""The public read API (`/v1`): what a gateway asks on its hot path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from modelreg.access.rules import UnknownTier
from modelreg.auth.dependencies import public_access
from modelreg.catalog.exceptions import ChainEndsUnserved, ModelArchived, ModelNotFound
from modelreg.config import get_settings
from modelreg.exceptions import ValidationFailed
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import MAX_LIMIT, CapabilityMatch, ListParams, SortKey, SortOrder, check_tier
from modelreg.pricing.credits import estimate
from modelreg.public.schemas import (
    CatalogReader,
    CatalogView,
    PublicModel,
    access_view,
    legacy_headers,
    price_at,
    prices_rates,
)
from modelreg.public.snapshot import is_compressible, list_body
from modelreg.responses import ExactJSONResponse, ExactJSONRoute, RawJSONResponse, none_match

router = APIRouter(
    prefix="/v1",
    tags=["public"],
    dependencies=[Depends(public_access)],
    route_class=ExactJSONRoute,
)

States = Annotated[list[LifecycleState], Query(description="repeatable")]


def current_view(request: Request) -> CatalogView:
    reader: CatalogReader = request.app.state.snapshot
    return reader.view()


View = Annotated[CatalogView, Depends(current_view)]


def _check_tier(tier: str) -> str:
    return check_tier(tier, get_settings().tiers)


@router.get("/models", response_class=ExactJSONResponse, summary="List models (OpenAI-compatible)")
async def list_models(
    request: Request,
    view: View,
    provider: str | None = None,
    capability: Annotated[list[str], Query(description="repeatable")] = [],  # noqa: B006
    capability_match: CapabilityMatch = CapabilityMatch.ALL,
    tier: Annotated[str | None, Query(description="only models this tier may use")] = None,
    max_credits_per_1k: Annotated[Decimal | None, Query(ge=0)] = None,
    state: States = [],  # noqa: B006
    include_legacy: bool = True,
    include_archived: bool = False,
    include_unavailable: bool = False,
    q: Annotated[str | None, Query(max_length=200, description="in id and display name")] = None,
    sort: SortKey = SortKey.ID,
    order: SortOrder = SortOrder.ASC,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
    after: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Every model matching the filters; all of them when `limit` is not given."""
    etag = view.etag
    if not_modified(request, etag):
        # A list may be sent compressed (by the fast path): its 304 says so too.
        return ExactJSONResponse(
            None, status_code=304, headers={"ETag": etag, "Vary": "Accept-Encoding"}
        )
    snapshot = request.app.state.snapshot.current
    key = request.scope["query_string"]
    cached = snapshot.cached(key) if snapshot is not None and snapshot.view is view else None
    if cached is not None:
        return RawJSONResponse(cached.body, headers=_list_headers(etag, cached.body))
    settings = get_settings()
    params = ListParams(
        provider=provider,
        capabilities=tuple(capability),
        capability_match=capability_match,
        tier=_check_tier(tier) if tier is not None else None,
        max_credits_per_1k=max_credits_per_1k,
        states=tuple(state),
        include_legacy=include_legacy,
        include_archived=include_archived,
        include_unavailable=include_unavailable,
        q=q,
        sort=sort,
        order=order,
        limit=limit,
        after=after,
    )
    margin = settings.tier_margin(tier) if tier is not None else Decimal(0)
    current = snapshot is not None and snapshot.view is view
    body = list_body(view, params, settings.tiers, margin, snapshot.models if current else None)
    if current:
        snapshot.remember(key, body)
    return RawJSONResponse(body, headers=_list_headers(etag, body))


def _list_headers(etag: str, body: bytes) -> dict[str, str]:
    """A list's ETag, and Vary when the fast path would also offer this body compressed."""
    return {"ETag": etag, "Vary": "Accept-Encoding"} if is_compressible(body) else {"ETag": etag}


@router.get("/catalog/changes", response_class=ExactJSONResponse, tags=["public"])
async def catalog_changes(
    request: Request, since: Annotated[int, Query(ge=0, description="a revision you hold")]
) -> ExactJSONResponse:
    """Ids of the models changed after revision `since`, and the current revision.

    `complete: false` means the instance no longer remembers that far back: fetch the whole
    list instead. A model in `changed` may have been archived (GET it to find out).
    """
    snapshot = request.app.state.snapshot.current
    etag = f'"{snapshot.revision}"'
    if not_modified(request, etag):
        return ExactJSONResponse(None, status_code=304, headers={"ETag": etag})
    changed, complete = snapshot.changes.since(since)
    return ExactJSONResponse(
        {
            "since": since,
            "revision": snapshot.revision,
            "changed": changed if complete else [],
            "complete": complete,
        },
        headers={"ETag": f'"{snapshot.revision}"'},
    )


def not_modified(request: Request, etag: str) -> bool:
    # Repeated header lines make one list (RFC 9110 5.3); compared as the fast path compares.
    lines = request.headers.getlist("if-none-match")
    given = ", ".join(lines).encode("latin-1") if lines else None
    return none_match(etag.encode(), given)


def _served(view: CatalogView, model_id: str) -> PublicModel:
    model = view.by_id.get(model_id)
    if model is None:
        raise ModelNotFound(model_id)
    if model.state is LifecycleState.ARCHIVED:
        replacement = model.body["legacy"]["replacement_model_id"] if model.body["legacy"] else None
        raise ModelArchived(model_id, replacement)
    return model


@router.get("/models/{model_id}", response_class=ExactJSONResponse, summary="One model")
async def get_model(model_id: str, view: View, request: Request) -> ExactJSONResponse:
    """The model with its legacy information. Archived: 410 with the replacement."""
    model = _served(view, model_id)
    etag = view.etag
    if not_modified(request, etag):
        return ExactJSONResponse(None, status_code=304, headers={"ETag": etag})
    return ExactJSONResponse(model.body, headers={**legacy_headers(model), "ETag": etag})


@router.get("/models/{model_id}/access", response_class=ExactJSONResponse)
async def model_access(model_id: str, tier: str, view: View) -> ExactJSONResponse:
    """May `tier` use this model; if not, why, and which tier would."""
    model = _served(view, model_id)
    try:
        decision = model.access(_check_tier(tier), get_settings().tiers)
    except UnknownTier as exc:
        raise ValidationFailed([{"path": "tier", "message": str(exc)}]) from None
    return ExactJSONResponse(access_view(decision))


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = Field(ge=0, le=10**12)
    output_tokens: int = Field(ge=0, le=10**12)
    tier: str | None = None
    at: datetime | None = Field(
        default=None,
        description="charge the prices in force at this moment (ISO 8601; UTC without an"
        " offset); now when not given",
    )


@router.post("/models/{model_id}/estimate", response_class=ExactJSONResponse)
async def model_estimate(model_id: str, body: EstimateRequest, view: View) -> ExactJSONResponse:
    """Credits and USD for a request of this size (the tier's margin applied to credits), at
    the prices in force now or at `at` (from the model's price history: yesterday's charge is
    reproduced exactly)."""
    model = _served(view, model_id)
    settings = get_settings()
    margin = Decimal(0)
    if body.tier is not None:
        _check_tier(body.tier)
        margin = settings.tier_margin(body.tier)
    pricing = model.body["pricing"]
    input_usd, output_usd = Decimal(pricing["input"]), Decimal(pricing["output"])
    rates = model.rates
    at = None
    if body.at is not None:
        at = body.at if body.at.tzinfo is not None else body.at.replace(tzinfo=UTC)
        prices = price_at(model, at.timestamp())
        if prices is None:
            first = model.prices[0].effective_from.isoformat()
            raise ValidationFailed(
                [{"path": "at", "message": f"before the model's first price (from {first})"}]
            )
        input_usd, output_usd, rates = prices.input_usd, prices.output_usd, prices_rates(prices)
    result = estimate(
        input_usd_per_million=input_usd,
        output_usd_per_million=output_usd,
        input_credits_per_1k=rates.input_per_1k,
        output_credits_per_1k=rates.output_per_1k,
        margin=margin,
        input_tokens=body.input_tokens,
        output_tokens=body.output_tokens,
    )
    out: dict[str, Any] = {
        "model": model.id,
        "tier": body.tier,
        "at": at.isoformat() if at is not None else None,
        "pricing": {"input": input_usd, "output": output_usd},
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "credits": result.credits,
        "usd": result.usd,
        "breakdown": {
            "input_credits": result.input_credits,
            "output_credits": result.output_credits,
            "input_usd": result.input_usd,
            "output_usd": result.output_usd,
        },
    }
    return ExactJSONResponse(out)


@router.get("/models/{model_id}/resolve", response_class=ExactJSONResponse)
async def resolve_model(model_id: str, view: View) -> ExactJSONResponse:
    """Follow replacements from a legacy model to the model to call today.

    The chain is followed while the model is legacy and names a replacement; the end must be
    served (not archived, available), else 410 with the chain.
    """
    start = view.by_id.get(model_id)
    if start is None:
        raise ModelNotFound(model_id)
    chain = [start.id]
    current = start
    while current.replacement_model_id and current.replacement_model_id not in chain:
        nxt = view.by_id.get(current.replacement_model_id)
        if nxt is None:
            break
        chain.append(nxt.id)
        current = nxt
    if current.state is LifecycleState.ARCHIVED or not current.available:
        raise ChainEndsUnserved(chain)
    return ExactJSONResponse(
        {"requested": model_id, "resolved": current.id, "chain": chain, "model": current.body}
    )
