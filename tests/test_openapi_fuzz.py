"""No request to any operation, public or admin, valid or not, is answered with a server error.

The fuzz test runs schemathesis over the app's own OpenAPI schema, the app in process (ASGI, its
lifespan started by schemathesis) over a seeded database, admin calls carrying an admin token.
Each operation gets a bounded, derandomised Hypothesis run with schema-valid data, one with
schema-invalid data, and, where the path names a model, one aimed at a model that exists.
The edge-case test then pins inputs that only a long fuzz run would find: each must be refused
with a 4xx, never a 5xx.
"""

from __future__ import annotations

import base64
import json
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.python import asgi
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.auth.roles import Role
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token

MAX_EXAMPLES = 25
EXISTING_MODEL = "gpt-4.1"  # gpt-4o's replacement, so archive and patch have rules to break
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

Operation = APIOperation[Any, Any, Any, Any]
STREAMS = frozenset({"GET /v1/catalog/events"})


@pytest.fixture
def admin_token(seeded_url: URL) -> str:
    """An admin token, made before the app starts (its snapshot holds the tokens)."""
    return issue_token(seeded_url, Role.ADMIN, name="openapi-fuzz")


@pytest.fixture
def api_schema(
    seeded_url: URL, admin_token: str, use_database: Callable[[URL], None]
) -> Iterator[BaseSchema]:
    """The schema the app serves, bound to the app; the app's lifespan ends with the test."""
    use_database(seeded_url)
    app = create_app()
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()


def _runs(operation: Operation) -> list[tuple[str, GenerationMode, dict[str, Any] | None]]:
    """(name, mode, fixed path parameters) of each run an operation gets."""
    has_input = any(True for _ in operation.iter_parameters()) or bool(operation.body)
    runs: list[tuple[str, GenerationMode, dict[str, Any] | None]] = [
        ("valid", GenerationMode.POSITIVE, None)
    ]
    if has_input:
        runs.append(("invalid", GenerationMode.NEGATIVE, None))
    if "model_id" in operation.path_parameters:
        runs.append(("existing model", GenerationMode.POSITIVE, {"model_id": EXISTING_MODEL}))
    return runs


def _fuzz(
    operation: Operation,
    mode: GenerationMode,
    path_parameters: dict[str, Any] | None,
    headers: dict[str, str],
    statuses: dict[str, Counter[int]],
) -> Callable[[], None]:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    seen = statuses.setdefault(operation.label, Counter())

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        seen[response.status_code] += 1

    return run


def _describe(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "\n".join("".join(traceback.format_exception_only(part)) for part in parts)


def test_no_operation_answers_with_a_server_error(api_schema: BaseSchema, admin_token: str) -> None:
    operations: list[Operation] = []
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(
                f"the app's OpenAPI schema has an operation that cannot be loaded: {result.err()}"
            )
        operations.append(result.ok())
    # A stream answers for as long as the client listens: it has tests of its own
    # (tests/events/test_stream.py).
    operations = [o for o in operations if o.label not in STREAMS]
    labels = {operation.label for operation in operations}
    assert {"GET /v1/models", "POST /v1/models/{model_id}/estimate"} <= labels
    assert {"POST /admin/v1/models", "PATCH /admin/v1/models/{model_id}"} <= labels
    headers = bearer(admin_token)
    statuses: dict[str, Counter[int]] = {}
    failures: dict[str, str] = {}

    for operation in operations:
        for name, mode, path_parameters in _runs(operation):
            try:
                _fuzz(operation, mode, path_parameters, headers, statuses)()
            except Exception as exc:
                failures[f"{operation.label} ({name})"] = _describe(exc)

    assert failures == {}, "\n\n".join(f"{run}:\n{error}" for run, error in failures.items())
    # Not vacuous: every operation answered, and the admin token got past authentication.
    assert sorted(label for label in labels if not statuses.get(label)) == []
    refused = {401, 403}
    assert [
        label for label in labels if "/admin/" in label and set(statuses[label]) <= refused
    ] == []


# Edge cases.

BEYOND_BIGINT = 2**63
NUL = "a\x00b"


def _cursor(value: object, model_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, model_id]).encode()).decode().rstrip("=")


EDGE_CASES: dict[str, tuple[str, str, object]] = {
    # id: (method, url, JSON body or None)
    "history-version-beyond-bigint": (
        "GET",
        f"/admin/v1/models/{EXISTING_MODEL}/history/{BEYOND_BIGINT}",
        None,
    ),
    "audit-cursor-beyond-bigint": ("GET", f"/admin/v1/audit?after={BEYOND_BIGINT}", None),
    "admin-list-cursor-beyond-bigint": (
        "GET",
        f"/admin/v1/models?sort=context_length&after={_cursor(10**30, EXISTING_MODEL)}",
        None,
    ),
    "NUL-in-a-model-id": ("GET", "/admin/v1/models/a%00b", None),
    "NUL-in-an-admin-list-filter": ("GET", "/admin/v1/models?provider=a%00b", None),
    "NUL-in-an-audit-filter": ("GET", "/admin/v1/audit?actor=a%00b", None),
    "NUL-in-a-patched-name": ("PATCH", f"/admin/v1/models/{EXISTING_MODEL}", {"name": NUL}),
    "NUL-in-a-patched-meta-string": (
        "PATCH",
        f"/admin/v1/models/{EXISTING_MODEL}",
        {"meta": {"description": NUL}},
    ),
    "NUL-in-a-reason": ("POST", "/admin/v1/models/gpt-5/archive", {"reason": NUL}),
    "price-too-large-for-the-credit-arithmetic": (
        "PATCH",
        f"/admin/v1/models/{EXISTING_MODEL}",
        {"meta": {"inputCostUsdPerMillionTokens": 10**60}},
    ),
}


@pytest.fixture(scope="module")
def edge_client(pg: PgServer) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app over one seeded database for the edge cases, and admin headers for it."""
    url = pg.seeded_url()
    token = issue_token(url, Role.ADMIN, name="openapi-fuzz")
    with serving(url, raise_server_exceptions=False) as client:
        yield client, bearer(token)


@pytest.mark.parametrize("case", list(EDGE_CASES), ids=list(EDGE_CASES))
def test_edge_input_is_a_client_error_not_a_server_error(
    edge_client: tuple[TestClient, dict[str, str]], case: str
) -> None:
    client, headers = edge_client
    method, url, body = EDGE_CASES[case]
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    content = None if body is None else json.dumps(body)

    response = client.request(
        method, url, content=content, headers={**headers, "Content-Type": content_type}
    )

    assert 400 <= response.status_code < 500, (response.status_code, response.text)
