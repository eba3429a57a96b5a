"""Every admin route refuses requests without a valid token of a high enough role; the public
API is open unless configured to need a token.

The admin routes are read from the app's own OpenAPI schema, so a route added later is checked
without anyone remembering to list it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.auth.roles import Role
from modelreg.db import jsonb
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, problem, serving
from tests.fixtures.tokens import issue_token, revoke_token
from tests.fixtures.waiting import poll

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
# The admin checks change this model (the required role gets through); the public ones read
# another.
EXISTING_MODEL = "gpt-4.1-mini"
PUBLIC_MODEL = "gpt-5"
PATH_VALUES = {
    "model_id": EXISTING_MODEL,
    "number": "1",
    "plan_id": "no-such-plan",
    "webhook_id": "wh_guard_check",
    "price_id": "1",
}
PUBLIC_PATH_VALUES = {"model_id": PUBLIC_MODEL}
# Values for the query parameters a route requires.
QUERY_VALUES = {"tier": "free", "since": "0", "replacement": PUBLIC_MODEL, "source": "litellm"}
KNOWN_ADMIN_ROUTES = {
    ("GET", "/admin/v1/models"),
    ("POST", "/admin/v1/models"),
    ("GET", "/admin/v1/models/{model_id}"),
    ("PATCH", "/admin/v1/models/{model_id}"),
    ("POST", "/admin/v1/models/{model_id}/mark-legacy"),
    ("POST", "/admin/v1/models/{model_id}/unmark-legacy"),
    ("POST", "/admin/v1/models/{model_id}/archive"),
    ("POST", "/admin/v1/models/{model_id}/unarchive"),
    ("GET", "/admin/v1/models/{model_id}/history"),
    ("GET", "/admin/v1/models/{model_id}/prices"),
    ("POST", "/admin/v1/models/{model_id}/prices"),
    ("DELETE", "/admin/v1/models/{model_id}/prices/{price_id}"),
    ("GET", "/admin/v1/models/{model_id}/history/{number}"),
    ("POST", "/admin/v1/models/{model_id}/revert"),
    ("GET", "/admin/v1/audit"),
    ("GET", "/admin/v1/models/{model_id}/replacement-impact"),
    ("POST", "/admin/v1/imports"),
    ("GET", "/admin/v1/imports/{plan_id}"),
    ("POST", "/admin/v1/imports/{plan_id}/apply"),
    ("POST", "/admin/v1/webhooks"),
    ("GET", "/admin/v1/webhooks"),
}
# Reads need viewer, writes editor; these need more.
ADMIN_ONLY = {
    ("POST", "/admin/v1/models/{model_id}/revert"),
    ("POST", "/admin/v1/webhooks"),
    ("GET", "/admin/v1/webhooks"),
    ("GET", "/admin/v1/webhooks/{webhook_id}"),
    ("PATCH", "/admin/v1/webhooks/{webhook_id}"),
    ("DELETE", "/admin/v1/webhooks/{webhook_id}"),
    ("POST", "/admin/v1/webhooks/{webhook_id}/replay"),
    ("GET", "/admin/v1/webhooks/{webhook_id}/attempts"),
}
MERGE_PATCH = "application/merge-patch+json"
NEW_MODEL = {
    "id": "guard-check-model",
    "name": "Guard Check",
    "provider": "testlab",
    "meta": {
        "displayName": "Guard Check",
        "capabilities": ["text"],
        "contextLength": 8192,
        "inputCostUsdPerMillionTokens": 1,
        "outputCostUsdPerMillionTokens": 2,
        "requiredTier": "free",
        "tierRestrictionMode": "minimum",
        "allowedTiers": [],
    },
}
# A minimal valid body for every route that takes one, so a refusal is about the token.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/admin/v1/models"): NEW_MODEL,
    ("PATCH", "/admin/v1/models/{model_id}"): {"meta": {"description": "checked"}},
    ("POST", "/admin/v1/models/{model_id}/mark-legacy"): {"reason": "guard check"},
    ("POST", "/admin/v1/models/{model_id}/unmark-legacy"): {"reason": "guard check"},
    ("POST", "/admin/v1/models/{model_id}/archive"): {"reason": "guard check"},
    ("POST", "/admin/v1/models/{model_id}/unarchive"): {"reason": "guard check"},
    ("POST", "/admin/v1/models/{model_id}/revert"): {"reason": "guard check", "to_version": 1},
    ("POST", "/admin/v1/models/{model_id}/prices"): {
        "effectiveFrom": "2099-01-01T00:00:00Z",
        "inputCostUsdPerMillionTokens": 1,
    },
    ("POST", "/admin/v1/imports/{plan_id}/apply"): {"reason": "guard check"},
    # A loopback target, which the SSRF guard refuses: nothing is ever sent anywhere.
    ("POST", "/admin/v1/webhooks"): {
        "url": "http://127.0.0.1:9/guard",
        "events": ["model.created"],
    },
    ("PATCH", "/admin/v1/webhooks/{webhook_id}"): {"active": False},
}
PUBLIC_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/models/{model_id}/estimate"): {"input_tokens": 1000, "output_tokens": 1000},
}


SCHEMA_PATHS: dict[str, dict[str, Any]] = create_app().openapi()["paths"]


def _schema_routes(prefix: str) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in SCHEMA_PATHS.items()
        if path.startswith(prefix)
        for method in item
        if method in HTTP_METHODS
    )


ADMIN_ROUTES = _schema_routes("/admin/")
PUBLIC_ROUTES = _schema_routes("/v1/")


def required_role(route: tuple[str, str]) -> Role:
    if route in ADMIN_ONLY:
        return Role.ADMIN
    return Role.VIEWER if route[0] == "GET" else Role.EDITOR


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


ROLE_TOO_LOW = [
    pytest.param(route, role, id=f"{_route_id(route)} as {role.value}")
    for route in ADMIN_ROUTES
    for role in Role
    if role.rank < required_role(route).rank
]


def _fill(path: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(f"no value for the path parameter {{{name}}} of {path}: add one")
        return values[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _required_query(route: tuple[str, str]) -> dict[str, str]:
    method, path = route
    parameters: list[dict[str, Any]] = SCHEMA_PATHS[path][method.lower()].get("parameters", [])
    required = [p["name"] for p in parameters if p["in"] == "query" and p.get("required")]
    missing = [name for name in required if name not in QUERY_VALUES]
    if missing:
        pytest.fail(f"no value for the query parameters {missing} of {method} {path}: add them")
    return {name: QUERY_VALUES[name] for name in required}


def _call(
    client: TestClient,
    route: tuple[str, str],
    headers: dict[str, str] | None = None,
    *,
    public: bool = False,
) -> Any:
    method, path = route
    all_headers = dict(headers or {})
    body = (PUBLIC_BODIES if public else BODIES).get(route)
    content = None
    if body is not None:
        all_headers["Content-Type"] = MERGE_PATCH if method == "PATCH" else "application/json"
        content = jsonb.dumps(body)
    return client.request(
        method,
        _fill(path, PUBLIC_PATH_VALUES if public else PATH_VALUES),
        params=_required_query(route),
        headers=all_headers,
        content=content,
    )


@pytest.fixture(scope="module")
def guarded_url(pg: PgServer) -> URL:
    return pg.seeded_url()


@pytest.fixture(scope="module")
def tokens(guarded_url: URL) -> dict[str, str]:
    """Tokens made before the app starts, by purpose."""
    made = {f"valid-{role.value}": issue_token(guarded_url, role) for role in Role}
    made |= {f"low-{r.value}": issue_token(guarded_url, r, name=f"low-{r.value}") for r in Role}
    made["revoked-admin"] = issue_token(guarded_url, Role.ADMIN, name="revoked", revoked=True)
    made["revoked-while-serving"] = issue_token(guarded_url, Role.VIEWER, name="revoked-later")
    return made


@pytest.fixture(scope="module")
def client(guarded_url: URL, tokens: dict[str, str]) -> Iterator[TestClient]:
    with serving(guarded_url, log_requests="false") as test_client:
        yield test_client


@pytest.fixture
def tokens_required(guarded_url: URL, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app started with MODELREG_PUBLIC_API_TOKEN_REQUIRED=true."""
    with serving(guarded_url, public_api_token_required="true") as test_client:
        yield test_client


def _actions_by(engine: Engine, actor: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM audit_events WHERE actor = :actor"), {"actor": actor}
            ).scalar_one()
        )


# The enumeration itself.


def test_the_schema_lists_every_known_admin_route() -> None:
    assert KNOWN_ADMIN_ROUTES - set(ADMIN_ROUTES) == set()


def test_every_admin_route_of_the_app_is_in_the_schema() -> None:
    registered = {
        (method, route.path)
        for route in create_app().routes
        if isinstance(route, APIRoute) and route.path.startswith("/admin/")
        for method in route.methods or ()
    }

    assert registered - set(ADMIN_ROUTES) == set()


def test_every_route_that_takes_a_body_has_a_minimal_one_here() -> None:
    taking_a_body = {
        (method, path)
        for method, path in [*ADMIN_ROUTES, *PUBLIC_ROUTES]
        if "requestBody" in SCHEMA_PATHS[path][method.lower()]
    }

    assert taking_a_body == set(BODIES) | set(PUBLIC_BODIES)


# Admin routes: no valid token.


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_without_a_token_is_unauthorized(
    client: TestClient, route: tuple[str, str]
) -> None:
    problem(_call(client, route), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_with_another_auth_scheme_is_unauthorized(
    client: TestClient, tokens: dict[str, str], route: tuple[str, str]
) -> None:
    headers = {"Authorization": f"Basic {tokens['valid-admin']}"}

    problem(_call(client, route, headers), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_with_a_malformed_token_is_unauthorized(
    client: TestClient, route: tuple[str, str]
) -> None:
    problem(_call(client, route, bearer("not-a-modelreg-token")), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_with_an_unknown_well_formed_token_is_unauthorized(
    client: TestClient, route: tuple[str, str]
) -> None:
    unknown = "mr_unknown0000id_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    problem(_call(client, route, bearer(unknown)), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_with_a_wrong_secret_for_a_real_token_id_is_unauthorized(
    client: TestClient, tokens: dict[str, str], route: tuple[str, str]
) -> None:
    prefix, token_id, _secret = tokens["valid-admin"].split("_", 2)
    forged = f"{prefix}_{token_id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    problem(_call(client, route, bearer(forged)), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_with_a_revoked_token_is_unauthorized(
    client: TestClient, tokens: dict[str, str], route: tuple[str, str]
) -> None:
    problem(_call(client, route, bearer(tokens["revoked-admin"])), 401, "unauthorized")


# Admin routes: a role too low.


@pytest.mark.parametrize(("route", "role"), ROLE_TOO_LOW)
def test_admin_route_with_a_role_too_low_is_forbidden_and_changes_nothing(
    client: TestClient,
    tokens: dict[str, str],
    guarded_url: URL,
    engine_for: Callable[[URL], Engine],
    route: tuple[str, str],
    role: Role,
) -> None:
    response = _call(client, route, bearer(tokens[f"low-{role.value}"]))

    problem(response, 403, "forbidden")
    assert _actions_by(engine_for(guarded_url), f"token:low-{role.value}") == 0


def test_every_write_is_checked_with_a_role_too_low() -> None:
    checked = {param.values[0] for param in ROLE_TOO_LOW}

    assert {r for r in ADMIN_ROUTES if r[0] != "GET"} <= checked


# Admin routes: the required role.


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_route_lets_the_required_role_through(
    client: TestClient, tokens: dict[str, str], route: tuple[str, str]
) -> None:
    response = _call(client, route, bearer(tokens[f"valid-{required_role(route).value}"]))

    assert response.status_code not in (401, 403), response.text[:500]


# Public API.


def _eventually(client: TestClient, token: str, status: int) -> Any:
    """GET /v1/models until it answers `status` or the deadline passes: the read path may serve a
    snapshot that learns of token changes a moment later."""
    return poll(
        lambda: client.get("/v1/models", headers=bearer(token)),
        lambda response: response.status_code == status,
    )


# The change stream answers 200 and then streams until the client leaves, which this client
# cannot do: tests/events/test_stream.py reads it over a real connection.
@pytest.mark.parametrize(
    "route", [r for r in PUBLIC_ROUTES if r != ("GET", "/v1/catalog/events")], ids=_route_id
)
def test_public_route_is_open_by_default(client: TestClient, route: tuple[str, str]) -> None:
    response = _call(client, route, public=True)

    assert response.status_code == 200, response.text[:500]


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=_route_id)
def test_public_route_without_a_token_is_unauthorized_when_tokens_are_required(
    tokens_required: TestClient, route: tuple[str, str]
) -> None:
    problem(_call(tokens_required, route, public=True), 401, "unauthorized")


@pytest.mark.parametrize(
    "token",
    ["not-a-modelreg-token", "mr_unknown0000id_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ids=["malformed", "unknown"],
)
def test_public_api_with_an_invalid_token_is_unauthorized_when_tokens_are_required(
    tokens_required: TestClient, token: str
) -> None:
    problem(tokens_required.get("/v1/models", headers=bearer(token)), 401, "unauthorized")


def test_public_api_with_a_revoked_token_is_unauthorized_when_tokens_are_required(
    tokens_required: TestClient, tokens: dict[str, str]
) -> None:
    response = tokens_required.get("/v1/models", headers=bearer(tokens["revoked-admin"]))

    problem(response, 401, "unauthorized")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_public_api_accepts_any_valid_token_when_tokens_are_required(
    tokens_required: TestClient, tokens: dict[str, str], role: Role
) -> None:
    for path in ("/v1/models", f"/v1/models/{PUBLIC_MODEL}"):
        response = tokens_required.get(path, headers=bearer(tokens[f"valid-{role.value}"]))
        assert response.status_code == 200, (path, response.text[:500])


def test_public_api_accepts_a_token_made_after_the_app_started(
    tokens_required: TestClient, guarded_url: URL
) -> None:
    token = issue_token(guarded_url, Role.VIEWER, name="made-while-serving")

    response = _eventually(tokens_required, token, 200)

    assert response.status_code == 200, response.text[:500]


def test_public_api_refuses_a_token_revoked_after_the_app_started(
    tokens_required: TestClient, guarded_url: URL, tokens: dict[str, str]
) -> None:
    token = tokens["revoked-while-serving"]
    assert tokens_required.get("/v1/models", headers=bearer(token)).status_code == 200
    revoke_token(guarded_url, token)

    response = _eventually(tokens_required, token, 401)

    problem(response, 401, "unauthorized")


def test_health_stays_open_when_tokens_are_required(tokens_required: TestClient) -> None:
    assert tokens_required.get("/healthz").status_code == 200
