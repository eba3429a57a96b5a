"""The public read API (`/v1`): an OpenAI-compatible model list and one model by id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog import repository
from modelreg.catalog.models import Model
from modelreg.db import jsonb
from modelreg.exceptions import NotFound

router = APIRouter()


class ExactJSONResponse(Response):
    """JSON whose Decimals stay exact numbers (FastAPI's encoder would turn them into floats)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonb.dumps(content).encode()


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as s:
        yield s


Session = Annotated[AsyncSession, Depends(session)]


def _lifecycle_state(model: Model) -> str:
    if model.is_archived:
        return "archived"
    return "legacy" if model.is_legacy else "active"


def _public(model: Model) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": int(model.created_at.timestamp()),
        "owned_by": model.provider,
        "name": model.name,
        "is_available": model.is_available,
        "state": _lifecycle_state(model),
        "meta": {k: v for k, v in model.meta.items() if k != "internalNotes"},
    }


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/models", tags=["public"], response_class=ExactJSONResponse)
async def list_models(db: Session) -> ExactJSONResponse:
    """Every model that is not archived, OpenAI-compatible."""
    models = await repository.list_served(db)
    return ExactJSONResponse({"object": "list", "data": [_public(m) for m in models]})


@router.get("/v1/models/{model_id}", tags=["public"], response_class=ExactJSONResponse)
async def get_model(model_id: str, db: Session) -> ExactJSONResponse:
    model = await repository.get(db, model_id)
    if model is None or model.is_archived:
        raise NotFound(f"no model {model_id!r} in the catalog")
    return ExactJSONResponse(_public(model))
