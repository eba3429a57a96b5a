"""The catalog in the formats gateways already read, served from the snapshot.

- `GET /v1/export/litellm`: LiteLLM's cost map (`model_prices_and_context_window.json`), every
  model not archived, keyed by id (a LiteLLM proxy reads it from `LITELLM_MODEL_COST_MAP_URL`).
- `GET /v1/export/litellm-config`: a `model_list` block for a LiteLLM proxy config, the models
  served (available, not archived). JSON, which is valid YAML.
- `GET /v1/export/openrouter`: shaped like OpenRouter's `GET /api/v1/models`.

Each is rendered once per snapshot (on first use) and then sent from bytes, by the edge's fast
path too, with `ETag: "<revision>"` and 304. Prices per token are the catalog's USD per million
divided by 10^6 exactly (`Decimal.scaleb`), written as exact JSON numbers (strings for
OpenRouter, as it writes them). Importing an export back into the same catalog plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from modelreg.auth.dependencies import public_access
from modelreg.db import jsonb
from modelreg.lifecycle.states import LifecycleState
from modelreg.public.schemas import CatalogView, PublicModel
from modelreg.public.snapshot import Rendered, Snapshot
from modelreg.responses import RawJSONResponse, none_match

PREFIX = "/v1/export"
LITELLM_ROUTE = f"{PREFIX}/litellm"
LITELLM_CONFIG_ROUTE = f"{PREFIX}/litellm-config"
OPENROUTER_ROUTE = f"{PREFIX}/openrouter"

# modelreg capability -> LiteLLM's flag (every one written, true or false).
LITELLM_FLAGS = (
    ("vision", "supports_vision"),
    ("function_calling", "supports_function_calling"),
    ("reasoning", "supports_reasoning"),
    ("structured_output", "supports_response_schema"),
    ("audio", "supports_audio_input"),
)
# modelreg capability -> OpenRouter's supported parameter.
OPENROUTER_PARAMETERS = (
    ("function_calling", "tools"),
    ("reasoning", "reasoning"),
    ("structured_output", "structured_outputs"),
)


def per_token(per_million: Any) -> Decimal:
    return Decimal(per_million).scaleb(-6)


def _sunset_day(model: PublicModel) -> str | None:
    if model.state is not LifecycleState.LEGACY or not model.sunset_date:
        return None
    return str(model.sunset_date)[:10]


def _exported(view: CatalogView) -> list[PublicModel]:
    return [m for m in view.models if m.state is not LifecycleState.ARCHIVED]


def _served(view: CatalogView) -> list[PublicModel]:
    return [m for m in _exported(view) if m.available]


def litellm_entry(model: PublicModel) -> dict[str, Any]:
    body = model.body
    max_output = body["max_output_tokens"]
    entry: dict[str, Any] = {
        "max_tokens": max_output if max_output is not None else body["context_length"],
        "max_input_tokens": body["context_length"],
    }
    if max_output is not None:
        entry["max_output_tokens"] = max_output
    entry |= {
        "input_cost_per_token": per_token(body["pricing"]["input"]),
        "output_cost_per_token": per_token(body["pricing"]["output"]),
        "litellm_provider": model.provider,
        "mode": "chat",
    }
    for capability, flag in LITELLM_FLAGS:
        entry[flag] = capability in model.capabilities
    sunset = _sunset_day(model)
    if sunset is not None:
        entry["deprecation_date"] = sunset
    return entry


def litellm(view: CatalogView) -> bytes:
    return jsonb.dumps({m.id: litellm_entry(m) for m in _exported(view)}).encode()


def litellm_config(view: CatalogView) -> bytes:
    models = []
    for model in _served(view):
        metadata = model.body.get("provider_metadata") or {}
        target = metadata.get("litellmModel") if isinstance(metadata, dict) else None
        info = litellm_entry(model)
        info.pop("litellm_provider")
        models.append(
            {
                "model_name": model.id,
                "litellm_params": {
                    "model": target if isinstance(target, str) else f"{model.provider}/{model.id}"
                },
                "model_info": info,
            }
        )
    return jsonb.dumps({"model_list": models}).encode()


def openrouter_entry(model: PublicModel) -> dict[str, Any]:
    body = model.body
    inputs = ["text"]
    if "vision" in model.capabilities:
        inputs.append("image")
    if "audio" in model.capabilities:
        inputs.append("audio")
    entry: dict[str, Any] = {
        "id": f"{model.provider}/{model.id}",
        "canonical_slug": f"{model.provider}/{model.id}",
        "name": body["display_name"],
        "created": body["created"],
        "description": body["description"],
        "context_length": body["context_length"],
        "architecture": {
            "modality": "+".join(inputs) + "->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": f"{per_token(body['pricing']['input']):f}",
            "completion": f"{per_token(body['pricing']['output']):f}",
            "request": "0",
            "image": "0",
        },
        "top_provider": {
            "context_length": body["context_length"],
            "max_completion_tokens": body["max_output_tokens"],
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": ["max_tokens"]
        + [p for capability, p in OPENROUTER_PARAMETERS if capability in model.capabilities],
    }
    sunset = _sunset_day(model)
    if sunset is not None:
        entry["expiration_date"] = sunset
    return entry


def openrouter(view: CatalogView) -> bytes:
    return jsonb.dumps({"data": [openrouter_entry(m) for m in _exported(view)]}).encode()


RENDERERS: dict[str, Callable[[CatalogView], bytes]] = {
    LITELLM_ROUTE: litellm,
    LITELLM_CONFIG_ROUTE: litellm_config,
    OPENROUTER_ROUTE: openrouter,
}


def rendered(snapshot: Snapshot, route: str) -> Rendered:
    """The export at this snapshot, rendered on first use and kept with the snapshot."""
    done = snapshot.exports.get(route)
    if done is None:
        done = Rendered(RENDERERS[route](snapshot.view))
        snapshot.exports[route] = done
    return done


router = APIRouter(prefix=PREFIX, tags=["exports"], dependencies=[Depends(public_access)])


def _respond(request: Request, route: str) -> Response:
    snapshot: Snapshot = request.app.state.snapshot.fresh()
    etag = snapshot.etag.decode()
    lines = request.headers.getlist("if-none-match")
    given = ", ".join(lines).encode("latin-1") if lines else None
    export = rendered(snapshot, route)
    vary = {"Vary": "Accept-Encoding"} if export.compressible else {}
    if none_match(snapshot.etag, given):
        return Response(status_code=304, headers={"ETag": etag, **vary})
    return RawJSONResponse(export.body, headers={"ETag": etag, **vary})


@router.get("/litellm", summary="The catalog as LiteLLM's cost map")
async def export_litellm(request: Request) -> Response:
    """Every model not archived, keyed by id: `input_cost_per_token`, `output_cost_per_token`,
    `litellm_provider`, `max_input_tokens`, `max_output_tokens`, `mode: chat`, `supports_*`,
    and `deprecation_date` for a legacy model with a sunset."""
    return _respond(request, LITELLM_ROUTE)


@router.get("/litellm-config", summary="A model_list block for a LiteLLM proxy config")
async def export_litellm_config(request: Request) -> Response:
    """The served models as `model_list` entries (JSON is valid YAML)."""
    return _respond(request, LITELLM_CONFIG_ROUTE)


@router.get("/openrouter", summary="The catalog shaped like OpenRouter's model list")
async def export_openrouter(request: Request) -> Response:
    """Every model not archived, as OpenRouter's `GET /api/v1/models` lists models."""
    return _respond(request, OPENROUTER_ROUTE)
