"""The console's import pages over HTTP: making a plan from an upload (and its errors next to
their fields), the review page, applying with a reason and the large-changes guardrail, a stale
plan, roles and CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from tests.console.helpers import ORIGIN, csrf_of, post_form, sign_in
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token
from tests.imports.helpers import DATA

LITELLM = (DATA / "litellm.json").read_bytes()
PLAN_URL = re.compile(r"^/console/imports/([0-9a-f]{32})$")


@dataclass
class Served:
    client: TestClient
    url: URL


@pytest.fixture
def served(pg: PgServer) -> Iterator[Served]:
    """A fresh seeded catalog, served (each test applies or edits its own)."""
    url = pg.seeded_url()
    with serving(url) as client:
        yield Served(client, url)


def make_plan(
    client: TestClient,
    *,
    source: str = "litellm",
    body: bytes | None = LITELLM,
    url: str = "",
    provider: str = "",
    csrf: str | None = None,
    origin: str = ORIGIN,
) -> httpx2.Response:
    token = csrf if csrf is not None else csrf_of(client.get("/console/imports").text)
    files = {"file": ("list.json", body or b"", "application/json")}
    if body is None:
        files = {"file": ("", b"", "application/octet-stream")}  # a browser's empty file input
    return client.post(
        "/console/imports",
        data={"source": source, "url": url, "provider": provider, "csrf_token": token},
        files=files,
        headers={"Origin": origin},
        follow_redirects=False,
    )


def plan_id_of(response: httpx2.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    found = PLAN_URL.match(response.headers["location"])
    assert found is not None, response.headers["location"]
    return found.group(1)


def count(html: str, group: str) -> int:
    found = re.search(rf'data-testid="count-{group}">(\d+)<', html)
    assert found is not None, group
    return int(found.group(1))


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    assert found is not None, f"no error next to {name}"
    return found.group(1)


def test_an_editor_uploads_a_list_and_reviews_the_plan(served: Served) -> None:
    client = served.client
    editor = issue_token(served.url, Role.EDITOR, name="planner")
    sign_in(client, editor)
    page = client.get("/console/imports")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    plan_id = plan_id_of(make_plan(client))
    review = client.get(f"/console/imports/{plan_id}")
    assert review.status_code == 200
    html = review.text
    assert (count(html, "add"), count(html, "change"), count(html, "deprecate")) == (2, 3, 2)
    assert count(html, "vanished") == 0
    assert count(html, "skipped") >= 3  # embedding, image, audio entries
    # field-level diffs with the price change in %
    assert "meta.inputCostUsdPerMillionTokens" in html
    assert re.search(r"[+-]?\d+(\.\d+)? %", html)
    # the guardrail trips: the apply form offers to allow large changes
    assert "Large changes" in html
    assert 'name="allow_large_changes"' in html
    # the same kept plan as the admin API's, made by the console's actor
    kept = client.get(f"/admin/v1/imports/{plan_id}", headers=bearer(editor)).json()
    assert kept["created_by"] == "console:token:planner"
    assert len(kept["plan"]["change"]) == 3
    listed = client.get("/console/imports").text
    assert f"/console/imports/{plan_id}" in listed


def test_the_provider_filter_narrows_the_plan(served: Served) -> None:
    client = served.client
    sign_in(client, issue_token(served.url, Role.EDITOR))
    plan_id = plan_id_of(make_plan(client, provider="anthropic"))
    html = client.get(f"/console/imports/{plan_id}").text
    assert (count(html, "add"), count(html, "change"), count(html, "deprecate")) == (0, 1, 0)
    assert "claude-sonnet-4-5" in html


def test_plan_form_errors_show_next_to_their_fields(served: Served) -> None:
    client = served.client
    sign_in(client, issue_token(served.url, Role.EDITOR))
    neither = make_plan(client, body=None)
    assert neither.status_code == 422
    assert "upload the list" in field_error(neither.text, "file")
    assert 'aria-describedby="file-error"' in neither.text
    both = make_plan(client, url="https://example.invalid/list.json")
    assert both.status_code == 422
    assert "not both" in field_error(both.text, "url")
    assert 'value="https://example.invalid/list.json"' in both.text  # kept in the form
    source = make_plan(client, source="nowhere")
    assert source.status_code == 422
    assert "litellm" in field_error(source.text, "source")
    unreadable = make_plan(client, source="openrouter", body=b"[]")
    assert unreadable.status_code == 422
    assert field_error(unreadable.text, "file")
    bad_url = make_plan(client, body=None, url="ftp://example.invalid/list.json")
    assert bad_url.status_code == 422
    assert field_error(bad_url.text, "url")
    assert "/console/imports/" not in client.get("/console/imports").text.split("Recent plans")[1]


def test_making_a_plan_needs_the_csrf_token_and_this_origin(served: Served) -> None:
    client = served.client
    sign_in(client, issue_token(served.url, Role.EDITOR))
    assert make_plan(client, csrf="forged").status_code == 403
    assert make_plan(client, origin="https://evil.example").status_code == 403
    assert "No plan yet." in client.get("/console/imports").text


def test_apply_needs_a_reason_and_allowing_large_changes_then_applies_once(
    served: Served,
) -> None:
    client = served.client
    editor = issue_token(served.url, Role.EDITOR, name="applier")
    sign_in(client, editor)
    plan_id = plan_id_of(make_plan(client))
    page = f"/console/imports/{plan_id}"
    apply = f"/console/imports/{plan_id}/apply"
    no_reason = post_form(client, apply, {"reason": " "}, from_page=page)
    assert no_reason.status_code == 422
    assert "say why" in field_error(no_reason.text, "reason")
    large = post_form(client, apply, {"reason": "monthly sync"}, from_page=page)
    assert large.status_code == 409
    assert "Allow large changes" in field_error(large.text, "allow_large_changes")
    assert 'value="monthly sync"' in large.text  # the reason is kept
    read = bearer(editor)
    before = client.get("/admin/v1/models/gpt-5-mini", headers=read).json()
    assert "importSource" not in before["meta"]
    applied = post_form(
        client, apply, {"reason": "monthly sync", "allow_large_changes": "on"}, from_page=page
    )
    assert applied.status_code == 303, applied.text[:2000]
    assert applied.headers["location"] == page
    after = client.get("/admin/v1/models/gpt-5-mini", headers=read).json()
    assert after["meta"]["importSource"] == {"source": "litellm", "key": "gpt-5-mini"}
    imported = client.get(
        "/admin/v1/audit", params={"action": "catalog.imported"}, headers=read
    ).json()["data"]
    assert imported[-1]["actor"] == "import:litellm"
    assert imported[-1]["reason"] == "monthly sync"
    html = client.get(page).text
    assert "by console:token:applier" in html
    assert "Apply the plan" not in html
    again = client.post(
        apply,
        data={"reason": "again", "allow_large_changes": "on", "csrf_token": csrf_of(html)},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert again.status_code == 409
    assert "applied already" in again.text


def test_a_stale_plan_is_refused_with_a_clear_message(served: Served) -> None:
    client = served.client
    editor = issue_token(served.url, Role.EDITOR)
    sign_in(client, editor)
    plan_id = plan_id_of(make_plan(client))
    edited = client.patch(
        "/admin/v1/models/gpt-4.1",
        json={"meta": {"description": "edited by hand"}},
        headers={**bearer(editor), "Content-Type": "application/merge-patch+json"},
    )
    assert edited.status_code == 200, edited.text
    page = f"/console/imports/{plan_id}"
    stale = post_form(
        client,
        f"{page}/apply",
        {"reason": "sync", "allow_large_changes": "on"},
        from_page=page,
    )
    assert stale.status_code == 409
    assert "This plan is stale" in stale.text
    assert 'href="/console/models/gpt-4.1"' in stale.text.split("This plan is stale")[1]
    assert "Make a new plan" in stale.text
    # nothing applied: the models it adds do not exist
    assert client.get("/admin/v1/models/acme-chat-1", headers=bearer(editor)).status_code == 404
    # the plan's page says so from now on, and offers no apply
    again = client.get(page).text
    assert "not applied" in again
    assert "This plan is stale" in again
    assert "Apply the plan" not in again


def test_a_plan_reads_as_stale_before_anyone_applies_it(served: Served) -> None:
    client = served.client
    editor = issue_token(served.url, Role.EDITOR)
    sign_in(client, editor)
    plan_id = plan_id_of(make_plan(client, provider="anthropic"))
    page = f"/console/imports/{plan_id}"
    fresh = client.get(page).text
    assert "This plan is stale" not in fresh
    assert "Apply the plan" in fresh
    edited = client.patch(
        "/admin/v1/models/claude-sonnet-4-5",
        json={"meta": {"description": "edited by hand"}},
        headers={**bearer(editor), "Content-Type": "application/merge-patch+json"},
    )
    assert edited.status_code == 200, edited.text
    stale = client.get(page).text
    assert "This plan is stale" in stale
    assert 'href="/console/models/claude-sonnet-4-5"' in stale.split("This plan is stale")[1]
    assert "Apply the plan" not in stale


def test_a_viewer_reads_plans_and_may_not_make_or_apply_them(served: Served) -> None:
    client = served.client
    editor = issue_token(served.url, Role.EDITOR)
    made = client.post("/admin/v1/imports?source=litellm", content=LITELLM, headers=bearer(editor))
    assert made.status_code == 201
    plan_id = made.json()["id"]
    sign_in(client, issue_token(served.url, Role.VIEWER))
    listing = client.get("/console/imports")
    assert listing.status_code == 200
    assert "Make the plan" not in listing.text
    assert f"/console/imports/{plan_id}" in listing.text
    assert 'href="/console/imports"' in listing.text  # in the navigation
    assert 'href="/console/webhooks"' not in listing.text
    review = client.get(f"/console/imports/{plan_id}")
    assert review.status_code == 200
    assert "Apply the plan" not in review.text
    token = csrf_of(review.text)
    assert make_plan(client, csrf=token).status_code == 403
    refused = client.post(
        f"/console/imports/{plan_id}/apply",
        data={"reason": "viewer tries", "allow_large_changes": "on", "csrf_token": token},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert client.get("/console/imports/nope").status_code == 404
