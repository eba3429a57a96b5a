"""What the tests of running instances (snapshot, listener, fast-path edge) share: one instance
per module for the tests that only read, changes made as another instance would make them or with
plain SQL (which sends no notification), and the resources asked of the fast path or the routes.
Eventual behaviour is waited for with `tests.fixtures.waiting.poll`."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import httpx2
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import Actor
from modelreg.catalog import service as catalog_service
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from modelreg.db.urls import libpq_conninfo
from tests.fixtures.http import bearer

# Shipped models the tests rely on.
ACTIVE = "o3"  # active, available, provider openai
LEGACY = "gpt-4o"  # legacy: served with Deprecation/Sunset/Link headers


@dataclass(frozen=True)
class Reader:
    """An instance shared by the tests of a module that change nothing, and its database."""

    client: TestClient
    url: URL


_nonces = itertools.count()


def routed(path: str) -> str:
    """`path` answered by the FastAPI routes: with a query parameter they ignore, new on every
    call, so that neither the fast path nor its cache of filtered lists can answer it."""
    return f"{path}{'&' if '?' in path else '?'}nocache={next(_nonces)}"


@dataclass(frozen=True)
class Target:
    """A public resource, asked so that the fast path answers it, or the FastAPI routes."""

    path: str
    fast: bool

    def url(self) -> str:
        return self.path if self.fast else routed(self.path)

    def __str__(self) -> str:
        return f"{'fast' if self.fast else 'routed'}:{self.path}"


# The two resources the fast path serves, each also through the FastAPI routes; a filtered list,
# which the fast path serves only from its cache once FastAPI rendered it.
TARGETS = [
    Target("/v1/models", fast=True),
    Target(f"/v1/models/{ACTIVE}", fast=True),
    Target("/v1/models", fast=False),
    Target(f"/v1/models/{ACTIVE}", fast=False),
    Target("/v1/models?provider=openai", fast=False),
]


async def _service_change(url: URL, model_id: str, description: str) -> int:
    engine = async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await catalog_service.patch_model(
                session,
                model_id,
                {"meta": {"description": description}},
                Actor(name="another-instance"),
                if_match=None,
                reason=None,
            )
            return await audit_repository.current_revision(session)
    finally:
        await engine.dispose()


def service_change(url: URL, model_id: str, description: str) -> int:
    """Change a model as another instance's admin API would (audit event, revision, NOTIFY),
    outside any app of this test; the new revision."""
    return asyncio.run(_service_change(url, model_id, description))


def catalog_revision(url: URL) -> int:
    with psycopg.connect(libpq_conninfo(url)) as conn:
        row = conn.execute("SELECT revision FROM catalog_state").fetchone()
    assert row is not None
    return int(row[0])


def sql_change(url: URL, model_id: str, description: str) -> int:
    """Set a model's description and bump the revision with plain SQL, in one transaction and
    without a NOTIFY (as a hand-made fix or a lost notification would leave it); the revision."""
    with psycopg.connect(libpq_conninfo(url)) as conn:
        updated = conn.execute(
            "UPDATE models SET meta = jsonb_set(meta, '{description}', to_jsonb(%s::text))"
            " WHERE id = %s",
            (description, model_id),
        ).rowcount
        assert updated == 1
        row = conn.execute(
            "UPDATE catalog_state SET revision = revision + 1 RETURNING revision"
        ).fetchone()
    assert row is not None
    return int(row[0])


def patch_description(
    client: TestClient,
    token: str,
    model_id: str,
    description: str,
    *,
    request_id: str | None = None,
) -> httpx2.Response:
    """Change a model's description through the admin API."""
    return client.patch(
        f"/admin/v1/models/{model_id}",
        content=jsonb.dumps({"meta": {"description": description}}),
        headers={
            **bearer(token, request_id),
            "Content-Type": "application/merge-patch+json",
        },
    )


def description(client: TestClient, model_id: str) -> str | None:
    """The description the instance serves for a model (None when it does not answer 200)."""
    response = client.get(f"/v1/models/{model_id}")
    if response.status_code != 200:
        return None
    value: Any = jsonb.loads(response.text)["description"]
    return str(value)


def readiness(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body
