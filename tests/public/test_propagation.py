"""Instances over one database serve each other's changes: by NOTIFY within a moment, by the
periodic revision check when a notification never came. Public responses carry the revision as
their ETag, and the fast path answers exactly what the FastAPI routes answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelreg.db import jsonb
from tests.fixtures.databases import Seeded
from tests.fixtures.http import bearer, serving
from tests.fixtures.waiting import poll
from tests.public.instances import (
    ACTIVE,
    LEGACY,
    TARGETS,
    Reader,
    Target,
    catalog_revision,
    description,
    patch_description,
    readiness,
    routed,
    sql_change,
)

# Long enough that nothing but a notification can bring a change within a test.
NO_POLLING = "3600"

# The ETags below are those of the uncompressed representation (the compressed one has its own:
# see test_compression.py); the test client asks for gzip unless told otherwise.
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def client(serve_seeded: Seeded) -> Iterator[TestClient]:
    with serving(snapshot__poll_interval_s=NO_POLLING, log_requests="false") as client:
        yield client


def listening(client: TestClient) -> bool:
    _, body = poll(lambda: readiness(client), lambda r: r[1].get("listener") == "connected")
    return body.get("listener") == "connected"


# Between instances.


def test_change_through_one_instance_is_served_by_another_by_notify(
    serve_seeded: Seeded,
) -> None:
    changed = "changed through instance A"
    with (
        serving(snapshot__poll_interval_s=NO_POLLING, log_requests="false") as a,
        serving(snapshot__poll_interval_s=NO_POLLING, log_requests="false") as b,
    ):
        assert listening(b)
        assert description(b, ACTIVE) != changed

        response = patch_description(a, serve_seeded.token, ACTIVE, changed)
        assert response.status_code == 200, response.text

        assert poll(lambda: description(b, ACTIVE), lambda d: d == changed) == changed
        revision = catalog_revision(serve_seeded.url)
        assert b.get("/v1/models", headers=IDENTITY).headers["etag"] == f'"{revision}"'


def test_change_without_a_notification_is_served_after_the_revision_check(
    serve_seeded: Seeded,
) -> None:
    changed = "changed with plain SQL, no NOTIFY"
    with serving(snapshot__poll_interval_s="0.2", log_requests="false") as b:
        assert listening(b)
        revision = sql_change(serve_seeded.url, ACTIVE, changed)

        assert poll(lambda: description(b, ACTIVE), lambda d: d == changed) == changed
        assert b.get(f"/v1/models/{ACTIVE}").headers["etag"] == f'"{revision}"'


def test_own_change_is_served_by_the_writing_instance_when_it_answers(
    client: TestClient, serve_seeded: Seeded
) -> None:
    changed = "read your writes"

    response = patch_description(client, serve_seeded.token, ACTIVE, changed)

    assert response.status_code == 200, response.text
    assert description(client, ACTIVE) == changed


# ETags.


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_public_response_carries_the_revision_as_etag(reader: Reader, target: Target) -> None:
    response = reader.client.get(target.url(), headers=IDENTITY)

    assert response.status_code == 200, response.text
    assert response.headers.get("etag") == f'"{catalog_revision(reader.url)}"'


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_if_none_match_with_the_current_etag_is_not_modified(
    reader: Reader, target: Target
) -> None:
    current = f'"{catalog_revision(reader.url)}"'

    response = reader.client.get(target.url(), headers={**IDENTITY, "If-None-Match": current})

    assert response.status_code == 304, response.text
    assert response.content == b""
    assert response.headers.get("etag") == current


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_if_none_match_with_an_old_etag_after_a_change_is_the_new_response(
    client: TestClient, serve_seeded: Seeded, target: Target
) -> None:
    old = f'"{catalog_revision(serve_seeded.url)}"'
    assert client.get(target.url(), headers={**IDENTITY, "If-None-Match": old}).status_code == 304
    changed = patch_description(client, serve_seeded.token, ACTIVE, "a newer description")
    assert changed.status_code == 200, changed.text

    response = client.get(target.url(), headers={**IDENTITY, "If-None-Match": old})

    assert response.status_code == 200, response.text
    assert response.headers.get("etag") == f'"{catalog_revision(serve_seeded.url)}"' != old
    assert b"a newer description" in response.content


# What changed since a revision.


def test_changes_since_an_old_revision_name_the_changed_model_and_the_current_revision(
    client: TestClient, serve_seeded: Seeded
) -> None:
    old = catalog_revision(serve_seeded.url)
    changed = patch_description(client, serve_seeded.token, ACTIVE, "changed for the feed")
    assert changed.status_code == 200, changed.text

    response = client.get("/v1/catalog/changes", params={"since": old})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "since": old,
        "revision": catalog_revision(serve_seeded.url),
        "changed": [ACTIVE],
        "complete": True,
    }


# The fast path and the FastAPI routes agree to the byte.


def test_fast_path_list_is_byte_identical_to_the_routed_list(reader: Reader) -> None:
    fast = reader.client.get("/v1/models", headers=IDENTITY)
    same_selection = reader.client.get(routed("/v1/models?include_legacy=true"), headers=IDENTITY)

    assert (fast.status_code, same_selection.status_code) == (200, 200)
    assert fast.content == same_selection.content  # the bytes on the wire, uncompressed
    for header in ("content-type", "content-length", "etag", "vary"):
        assert fast.headers.get(header) == same_selection.headers.get(header), header
    listed: list[dict[str, Any]] = jsonb.loads(fast.text)["data"]
    assert {ACTIVE, LEGACY} <= {m["id"] for m in listed}


@pytest.mark.parametrize("model_id", [ACTIVE, LEGACY])
def test_fast_path_model_is_byte_identical_to_the_routed_model(
    reader: Reader, model_id: str
) -> None:
    fast = reader.client.get(f"/v1/models/{model_id}")
    same = reader.client.get(routed(f"/v1/models/{model_id}"))

    assert (fast.status_code, same.status_code) == (200, 200)
    assert fast.content == same.content
    for name in ("content-type", "etag", "deprecation", "sunset", "link"):
        assert fast.headers.get(name) == same.headers.get(name), name
    if model_id == LEGACY:
        assert "deprecation" in fast.headers


def test_fast_path_and_routes_still_agree_after_changes(
    client: TestClient, serve_seeded: Seeded
) -> None:
    """After reloads that render only the changed models again."""
    renamed = patch_description(client, serve_seeded.token, "gpt-5", "changed since the start")
    assert renamed.status_code == 200, renamed.text
    archived = client.post(
        f"/admin/v1/models/{ACTIVE}/archive",
        json={"reason": "test: archive"},
        headers=bearer(serve_seeded.token),
    )
    assert archived.status_code == 200, archived.text

    fast_list = client.get("/v1/models")
    routed_list = client.get(routed("/v1/models?include_legacy=true"))
    fast_model = client.get("/v1/models/gpt-5")
    routed_model = client.get(routed("/v1/models/gpt-5"))

    assert fast_list.content == routed_list.content
    assert ACTIVE not in {m["id"] for m in jsonb.loads(fast_list.text)["data"]}
    assert fast_model.content == routed_model.content
    assert b"changed since the start" in fast_model.content
    assert client.get(f"/v1/models/{ACTIVE}").status_code == 410
    assert client.get(routed(f"/v1/models/{ACTIVE}")).status_code == 410
