"""Requests to the admin API as the tests make them: exact JSON both ways."""

from __future__ import annotations

from typing import Any

import httpx2
from fastapi.testclient import TestClient

from modelreg.db import jsonb
from tests.fixtures.http import problem
from tests.fixtures.models import PROVIDER, base_meta

MODELS = "/admin/v1/models"
MERGE_PATCH = "application/merge-patch+json"


def model_body(model_id: str, meta: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": f"Model {model_id}",
        "provider": PROVIDER,
        "meta": base_meta() if meta is None else meta,
        **fields,
    }


def create(
    client: TestClient, headers: dict[str, str], body: dict[str, Any] | str
) -> httpx2.Response:
    """POST a model; `body` as raw JSON text, or as a dict of fields over model_body's (its
    "id" required)."""
    if isinstance(body, dict):
        body = jsonb.dumps(model_body(body["id"]) | body)
    return client.post(
        MODELS, content=body, headers={**headers, "Content-Type": "application/json"}
    )


def patch(
    client: TestClient,
    headers: dict[str, str],
    model_id: str,
    change: dict[str, Any] | str,
    *,
    if_match: str | None = None,
) -> httpx2.Response:
    """PATCH a merge patch given as a dict or as raw JSON text."""
    all_headers = {**headers, "Content-Type": MERGE_PATCH}
    if if_match is not None:
        all_headers["If-Match"] = if_match
    content = change if isinstance(change, str) else jsonb.dumps(change)
    return client.patch(f"{MODELS}/{model_id}", content=content, headers=all_headers)


def exact(response: httpx2.Response) -> Any:
    """The body with every non-integer number as the exact Decimal it was written as."""
    return jsonb.loads(response.text)


def problem_paths(response: httpx2.Response) -> list[str]:
    body = problem(response, 422, "validation_error")
    return [error["path"] for error in body["errors"]]
