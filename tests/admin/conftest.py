"""Fixtures of the admin API tests: one seeded database and app per module, tokens, and a fresh
model for each test that changes one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from tests.admin.api import create
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.models import base_meta
from tests.fixtures.tokens import issue_token


@pytest.fixture(scope="module")
def admin_url(pg: PgServer) -> URL:
    return pg.seeded_url()


@pytest.fixture(scope="module")
def editor(admin_url: URL) -> dict[str, str]:
    return bearer(issue_token(admin_url, Role.EDITOR))


@pytest.fixture(scope="module")
def viewer(admin_url: URL) -> dict[str, str]:
    return bearer(issue_token(admin_url, Role.VIEWER))


@pytest.fixture(scope="module")
def client(admin_url: URL, editor: dict[str, str], viewer: dict[str, str]) -> Iterator[TestClient]:
    with serving(admin_url, log_requests="false") as test_client:
        yield test_client


@pytest.fixture
def fresh_id(request: pytest.FixtureRequest) -> str:
    """A model id no other test uses, named after the test."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"t-{name[:70]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_model(
    client: TestClient, editor: dict[str, str], fresh_id: str
) -> Callable[..., dict[str, Any]]:
    """Create a model of provider `testlab` (meta overrides as keyword arguments); its view."""

    def make(**meta: Any) -> dict[str, Any]:
        response = create(client, editor, {"id": fresh_id, "meta": base_meta(**meta)})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return make


@pytest.fixture
def model(make_model: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_model()


@pytest.fixture(scope="module")
def archived_id(client: TestClient, editor: dict[str, str]) -> str:
    """A model of this module's catalog that is archived (the seed ships none)."""
    model_id = "t-archived"
    assert create(client, editor, {"id": model_id}).status_code == 201
    response = client.post(
        f"/admin/v1/models/{model_id}/archive", json={"reason": "retired"}, headers=editor
    )
    assert response.status_code == 200, response.text
    return model_id
