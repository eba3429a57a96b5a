"""Abuse of the HTTP API: oversized, deeply nested, non-finite and loosely typed input, odd
conditional headers and cursors. Each is refused with a 4xx naming the field (or served as the
HTTP rules say), never a 5xx; and nothing is written in half."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from modelreg.db.urls import libpq_conninfo
from tests.admin.api import MODELS, create, exact, patch, problem_paths
from tests.fixtures.http import bearer
from tests.fixtures.live import assert_history_agrees
from tests.fixtures.tokens import issue_token
from tests.fixtures.waiting import poll

DEEP = 600  # levels of nesting that once reached Python's recursion limit
SHIPPED = "gpt-4.1"


@pytest.fixture(autouse=True)
def _history_agrees(admin_url: URL) -> Iterator[None]:
    yield
    assert_history_agrees(admin_url)


@pytest.fixture(scope="module")
def admin(admin_url: URL) -> dict[str, str]:
    return bearer(issue_token(admin_url, Role.ADMIN, name="abuse-admin"))


def _post(client: TestClient, headers: dict[str, str], path: str, body: Any) -> Any:
    return client.post(path, json=body, headers=headers)


# 2. Inputs that once answered 500.


@pytest.mark.parametrize(
    ("levels", "path"),
    [
        (DEEP, "meta.providerMetadata.x" + "[0]" * 29),
        (100_000, "$"),  # too deep for the parser itself: refused as a whole
    ],
)
def test_deeply_nested_meta_is_refused_at_its_path(
    client: TestClient, editor: dict[str, str], model: dict[str, Any], levels: int, path: str
) -> None:
    nested = "[" * levels + "]" * levels
    body = '{"meta": {"providerMetadata": {"x": ' + nested + "}}}"

    response = patch(client, editor, model["id"], body)

    assert problem_paths(response) == [path]


@pytest.mark.parametrize(
    ("meta", "path"),
    [
        ('{"providerMetadata": {"rpm": NaN}}', "meta.providerMetadata.rpm"),
        ('{"customScore": Infinity}', "meta.customScore"),
        ('{"custom": {"list": [1, -Infinity]}}', "meta.custom.list[1]"),
    ],
)
def test_non_finite_numbers_are_refused_at_their_path(
    client: TestClient, editor: dict[str, str], model: dict[str, Any], meta: str, path: str
) -> None:
    response = patch(client, editor, model["id"], '{"meta": ' + meta + "}")

    assert problem_paths(response) == [path]


def test_a_sunset_beyond_year_9999_in_utc_is_refused_at_the_sunset(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    late = "9999-12-31T23:59:59-01:00"

    patched = patch(client, editor, model["id"], {"meta": {"sunsetDate": late}})
    marked = _post(
        client,
        editor,
        f"{MODELS}/{model['id']}/mark-legacy",
        {"reason": "late", "sunset_date": late},
    )

    assert problem_paths(patched) == ["meta.sunsetDate"]
    assert problem_paths(marked) == ["meta.sunsetDate"]


# 3. Size limits.


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    big = b'{"meta": {"description": "' + b"x" * 2_000_000 + b'"}}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is only known as it streams
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    declared = client.patch(
        f"{MODELS}/{model['id']}",
        content=big,
        headers={**editor, "Content-Type": "application/merge-patch+json"},
    )
    streamed = client.patch(
        f"{MODELS}/{model['id']}",
        content=chunks(),
        headers={**editor, "Content-Type": "application/merge-patch+json"},
    )

    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert declared.json()["code"] == "body_too_large"


@pytest.mark.parametrize("body", [b"{not json", b'{"id": "x"' + b" " * 2_000_000 + b"}"])
def test_a_request_without_a_token_is_refused_before_its_body(
    client: TestClient, body: bytes
) -> None:
    response = client.post(MODELS, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 401, response.text


# The public reads are answered from the snapshot before routing: the limit holds there too.
@pytest.mark.parametrize("path", [MODELS, "/v1/models", "/v1/models/gpt-4.1", "/healthz"])
def test_headers_over_the_limit_are_refused(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == (401 if path == MODELS else 200)
    response = client.get(path, headers={"Authorization": "Bearer " + "x" * 100_000})

    assert response.status_code == 431, response.text
    assert response.json()["code"] == "headers_too_large"


@pytest.mark.parametrize(
    ("meta", "path"),
    [
        ({"description": "x" * 10_001}, "meta.description"),
        ({"internalNotes": "x" * 10_001}, "meta.internalNotes"),
        ({"deprecationNotice": "x" * 10_001}, "meta.deprecationNotice"),
        ({"providerMetadata": {"blob": "x" * 20_000}}, "meta.providerMetadata"),
        ({"complianceTags": [f"tag-{i}" for i in range(65)]}, "meta.complianceTags"),
        ({"customBlob": "x" * 20_000}, "meta"),
    ],
)
def test_oversized_fields_are_refused_at_the_field(
    client: TestClient,
    editor: dict[str, str],
    model: dict[str, Any],
    meta: dict[str, Any],
    path: str,
) -> None:
    response = patch(client, editor, model["id"], {"meta": meta})

    assert problem_paths(response) == [path]


# 4. Strict types, free models, text that looks like NUL.


def test_force_must_be_a_boolean(client: TestClient, editor: dict[str, str]) -> None:
    response = _post(client, editor, f"{MODELS}/{SHIPPED}/archive", {"reason": "r", "force": "yes"})

    assert problem_paths(response) == ["force"]


def test_create_takes_only_a_json_boolean_for_is_available(
    client: TestClient, editor: dict[str, str], fresh_id: str
) -> None:
    response = create(client, editor, {"id": fresh_id, "is_available": "off"})

    assert problem_paths(response) == ["is_available"]


def test_credits_pinned_must_be_a_boolean(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"creditsPinned": "true"}})

    assert problem_paths(response) == ["meta.creditsPinned"]


@pytest.mark.parametrize("to_version", [True, "1", 1.0, 10**20])
def test_revert_takes_a_version_number_in_range(
    client: TestClient, admin: dict[str, str], model: dict[str, Any], to_version: Any
) -> None:
    response = _post(
        client, admin, f"{MODELS}/{model['id']}/revert", {"reason": "r", "to_version": to_version}
    )

    assert problem_paths(response) == ["to_version"]


def test_a_free_model_costs_zero_credits(
    client: TestClient, editor: dict[str, str], fresh_id: str
) -> None:
    response = create(
        client,
        editor,
        {
            "id": fresh_id,
            "meta": {
                "displayName": "Free",
                "capabilities": ["text"],
                "contextLength": 8192,
                "inputCostUsdPerMillionTokens": 0,
                "outputCostUsdPerMillionTokens": 0,
                "requiredTier": "free",
                "tierRestrictionMode": "minimum",
                "allowedTiers": [],
            },
        },
    )

    assert response.status_code == 201, response.text
    meta = exact(response)["meta"]
    assert [meta[k] for k in ("creditsPer1kTokens", "inputCreditsPer1kTokens")] == [0, 0]
    assert meta["outputCreditsPer1kTokens"] == 0


def test_a_free_direction_is_accepted(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"inputCostUsdPerMillionTokens": 0}})

    assert response.status_code == 200, response.text
    assert exact(response)["meta"]["inputCreditsPer1kTokens"] == Decimal(0)


def test_the_text_backslash_u0000_is_kept_and_a_real_nul_refused(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    text = "escape: \\u0000 stays text"

    kept = patch(client, editor, model["id"], {"meta": {"description": text}})
    refused = patch(client, editor, model["id"], '{"meta": {"description": "a\\u0000b"}}')

    assert kept.status_code == 200, kept.text
    assert exact(kept)["meta"]["description"] == text
    assert client.get(f"/v1/models/{model['id']}").json()["description"] == text
    assert problem_paths(refused) == ["meta.description"]


# 5. HTTP.


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/v1/models", f"/v1/models/{SHIPPED}", "/v1/models?provider=openai"],
)
def test_head_is_answered_like_get_without_a_body(client: TestClient, path: str) -> None:
    identity = {"Accept-Encoding": "identity"}
    get = client.get(path, headers=identity)
    head = client.head(path, headers=identity)

    assert get.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    if path != "/readyz":  # which reports its own age
        assert head.headers["content-length"] == get.headers["content-length"]
        assert head.headers.get("etag") == get.headers.get("etag")


def test_head_on_an_admin_route(client: TestClient, editor: dict[str, str]) -> None:
    head = client.head(f"{MODELS}/{SHIPPED}", headers=editor)

    assert head.status_code == 200
    assert head.content == b""


@pytest.mark.parametrize("path", [f"/v1/models/{SHIPPED}", "/v1/models?provider=openai"])
def test_if_none_match_is_parsed_as_a_list_of_entity_tags(client: TestClient, path: str) -> None:
    identity = {"Accept-Encoding": "identity"}
    etag = client.get(path, headers=identity).headers["etag"]

    def status(value: str) -> int:
        return client.get(path, headers={**identity, "If-None-Match": value}).status_code

    assert status(f"x{etag}x") == 200
    assert status(etag[:-1] + '0"') == 200
    assert status(f'"other", W/{etag}') == 304
    assert status("*") == 304


def _forge(*items: Any) -> str:
    raw = json.dumps(list(items), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_the_public_cursor_refuses_what_the_service_did_not_issue(client: TestClient) -> None:
    first = client.get("/v1/models", params={"limit": 2, "sort": "credits"}).json()
    issued = first["next_after"]
    value, model_id = json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))[1:]

    def status(sort: str, cursor: str) -> int:
        return client.get("/v1/models", params={"sort": sort, "after": cursor}).status_code

    assert status("credits", issued) == 200
    assert status("context_length", issued) == 422  # issued for another sort
    assert status("credits", _forge({"a": 1})) == 422
    assert status("credits", _forge(value, model_id)) == 422  # no sort named
    assert status("credits", _forge("credits", f"0{value}", model_id)) == 422  # not as written
    assert status("credits", _forge("credits", value, model_id) + "%") == 422


def test_a_404_does_not_echo_a_long_id_whole(client: TestClient, viewer: dict[str, str]) -> None:
    long_id = "x" * 10_000

    public = client.get(f"/v1/models/{long_id}")
    admin = client.get(f"{MODELS}/{long_id}", headers=viewer)

    for response in (public, admin):
        assert response.status_code == 404
        assert len(response.content) < 1_000


# The connection dying in the middle of a request.


def test_a_connection_killed_mid_request_answers_503(
    client: TestClient, editor: dict[str, str], model: dict[str, Any], admin_url: URL
) -> None:
    """The request waits on the row lock this test holds; its backend is terminated meanwhile:
    503, as every other loss of the database, and nothing written."""
    answers: list[Any] = []
    with psycopg.connect(libpq_conninfo(admin_url)) as holder:
        holder.execute("SELECT 1 FROM models WHERE id = %s FOR UPDATE", (model["id"],))
        writer = threading.Thread(
            target=lambda: answers.append(
                patch(client, editor, model["id"], {"meta": {"description": "late"}})
            )
        )
        writer.start()
        with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as watcher:
            waiting = poll(
                lambda: watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> %s",
                    (holder.info.backend_pid,),
                ).fetchall(),
                lambda rows: len(rows) == 1,
            )
            assert len(waiting) == 1, waiting
            watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        writer.join(timeout=60)
        holder.rollback()

    assert answers[0].status_code == 503, answers[0].text
    assert answers[0].json()["code"] == "database_unavailable"
    after = client.get(f"{MODELS}/{model['id']}", headers=editor)
    assert after.status_code == 200
    assert exact(after)["version"] == model["version"]


@contextmanager
def _backend_killed_after(client: TestClient, admin_url: URL, marker: str) -> Iterator[list[int]]:
    """While in effect, the app's connection is terminated right after it runs a statement
    containing `marker` (and before the request goes on), once; the pids killed."""
    app: Any = client.app
    engine = app.state.sessionmaker.kw["bind"].sync_engine
    killed: list[int] = []

    def kill(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if killed or marker not in statement:
            return
        pid = conn.connection.driver_connection.info.backend_pid
        with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            gone = poll(
                lambda: other.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone(),
                lambda row: row is not None and row[0] == 0,
            )
            assert gone == (0,), gone
        killed.append(pid)

    event.listen(engine, "after_cursor_execute", kill)
    try:
        yield killed
    finally:
        event.remove(engine, "after_cursor_execute", kill)


@pytest.mark.parametrize(
    ("change", "stale", "status"),
    [
        ({"meta": {"description": "late"}}, True, 412),  # If-Match names another version
        ({"name": ""}, False, 422),  # found invalid once the row is read
        ({"is_available": True}, False, 409),  # an archived model made available
    ],
    ids=["412", "422", "409"],
)
def test_a_connection_lost_before_the_rollback_of_a_refusal_answers_503(
    client: TestClient,
    editor: dict[str, str],
    admin_url: URL,
    make_model: Any,
    change: dict[str, Any],
    stale: bool,
    status: int,
) -> None:
    """The request reads the row, finds it must refuse, and rolls back: the connection died
    after the read, so only the rollback meets it. 503, as every other loss of the database
    (it once answered 500); and the next request is served on a good connection."""
    model = make_model()
    if status == 409:
        archived = client.post(
            f"{MODELS}/{model['id']}/archive", json={"reason": "retired"}, headers=editor
        )
        assert archived.status_code == 200, archived.text
        model = archived.json()
    if_match = f'"{model["version"] + 1}"' if stale else None
    refused = patch(client, editor, model["id"], change, if_match=if_match)
    assert refused.status_code == status, refused.text  # the refusal this test is about

    with _backend_killed_after(client, admin_url, "FOR UPDATE") as killed:
        answer = patch(client, editor, model["id"], change, if_match=if_match)

    assert len(killed) == 1
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "database_unavailable"
    after = client.get(f"{MODELS}/{model['id']}", headers=editor)
    assert after.status_code == 200
    assert exact(after)["version"] == model["version"]
