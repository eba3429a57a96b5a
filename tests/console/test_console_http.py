"""The console over HTTP without a browser: sessions and their cookie, CSRF, roles, the audit
actor, and the replacement impact API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.auth.roles import Role
from modelreg.config import get_settings
from tests.console.helpers import ORIGIN, csrf_of, post_form, sign_in
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token
from tests.fixtures.tokens import revoke_token as revoke

ACTIVE = "o3"
OTHER = "gpt-5"


@pytest.fixture(scope="module")
def console_url(pg: PgServer) -> URL:
    url = pg.seeded_url()  # at head, with the shipped catalog
    return url


@pytest.fixture(scope="module")
def client(console_url: URL) -> Iterator[TestClient]:
    with serving(console_url) as test_client:
        yield test_client


@pytest.fixture
def fresh(client: TestClient) -> Iterator[TestClient]:
    """The module's app with an empty cookie jar."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


def test_sign_in_sets_a_strict_http_only_expiring_cookie(
    fresh: TestClient, console_url: URL
) -> None:
    response = sign_in(fresh, issue_token(console_url, Role.VIEWER, name="cookie-check"))
    assert response.status_code == 303
    assert response.headers["location"] == "/console/models"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("modelreg_console=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain http here; https sets it (next test)
    page = fresh.get("/console/models")
    assert page.status_code == 200
    assert "viewer" in page.text


def test_the_cookie_is_secure_over_https(console_url: URL) -> None:
    token = issue_token(console_url, Role.VIEWER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELREG_DATABASE_URL", console_url.render_as_string(hide_password=False))
        patch.setenv("MODELREG_LOG_REQUESTS", "false")
        get_settings.cache_clear()
        try:
            with TestClient(create_app(), base_url="https://testserver") as https:
                page = https.get("/console/sign-in")
                response = https.post(
                    "/console/sign-in",
                    data={"token": token, "csrf_token": csrf_of(page.text)},
                    headers={"Origin": "https://testserver"},
                    follow_redirects=False,
                )
        finally:
            get_settings.cache_clear()
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("modelreg_console=")
    )
    assert "secure" in cookie.lower()


def test_a_bad_token_is_refused_on_the_sign_in_page(fresh: TestClient) -> None:
    response = sign_in(fresh, "mr_nope_nope")
    assert response.status_code == 401
    assert "not valid" in response.text
    assert fresh.get("/console/models", follow_redirects=False).status_code == 303


def test_pages_need_a_session(fresh: TestClient) -> None:
    response = fresh.get("/console/models/o3", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"


def test_a_forged_cookie_is_no_session(fresh: TestClient) -> None:
    fresh.cookies.set("modelreg_console", "made-up.0123", path="/console")
    assert fresh.get("/console/models", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(fresh: TestClient, console_url: URL) -> None:
    sign_in(fresh, issue_token(console_url, Role.VIEWER))
    stolen = fresh.cookies.get("modelreg_console")
    assert post_form(fresh, "/console/sign-out", {}, from_page="/console/models").status_code == 303
    fresh.cookies.set("modelreg_console", str(stolen), path="/console")
    assert fresh.get("/console/models", follow_redirects=False).status_code == 303


def test_a_revoked_token_ends_its_sessions_on_the_next_request(
    fresh: TestClient, console_url: URL
) -> None:
    token = issue_token(console_url, Role.EDITOR, name="soon-revoked")
    sign_in(fresh, token)
    assert fresh.get("/console/models").status_code == 200
    revoke(console_url, token)
    response = fresh.get("/console/models", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"


def test_a_post_from_another_origin_is_refused(fresh: TestClient, console_url: URL) -> None:
    sign_in(fresh, issue_token(console_url, Role.EDITOR))
    response = post_form(
        fresh,
        f"/console/models/{ACTIVE}/unmark-legacy",
        {"reason": "cross-site"},
        from_page="/console/models",
        origin="https://evil.example",
    )
    assert response.status_code == 403
    assert "evil.example" in response.text


def test_a_post_without_the_csrf_token_is_refused(fresh: TestClient, console_url: URL) -> None:
    sign_in(fresh, issue_token(console_url, Role.EDITOR))
    response = fresh.post(
        "/console/sign-out", data={}, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert response.status_code == 403
    assert fresh.get("/console/models").status_code == 200  # still signed in


def test_a_viewer_is_refused_edits_with_a_403_page(fresh: TestClient, console_url: URL) -> None:
    sign_in(fresh, issue_token(console_url, Role.VIEWER))
    page = fresh.get(f"/console/models/{ACTIVE}")
    assert "/edit" not in page.text
    for path in (f"/console/models/{ACTIVE}/edit", "/console/models/new", "/console/tokens"):
        response = fresh.get(path)
        assert response.status_code == 403, path
        assert "text/html" in response.headers["content-type"]
    response = post_form(
        fresh,
        f"/console/models/{ACTIVE}/archive",
        {"reason": "viewer tries"},
        from_page="/console/models",
    )
    assert response.status_code == 403


def test_console_changes_name_the_token_and_the_console_in_the_audit_log(
    fresh: TestClient, console_url: URL
) -> None:
    token = issue_token(console_url, Role.ADMIN, name="auditor")
    sign_in(fresh, token)
    page = fresh.get(f"/console/models/{OTHER}/archive")
    response = fresh.post(
        f"/console/models/{OTHER}/archive",
        data={"reason": "audit actor check", "csrf_token": csrf_of(page.text), "force": "on"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    events = fresh.get(
        "/admin/v1/audit", params={"model": OTHER, "action": "archive"}, headers=bearer(token)
    ).json()["data"]
    assert events[-1]["actor"] == "console:token:auditor"
    assert events[-1]["reason"] == "audit actor check"
    assert fresh.get(f"/v1/models/{OTHER}").status_code in (404, 410)
    unarchived = post_form(
        fresh,
        f"/console/models/{OTHER}/unarchive",
        {"reason": "back"},
        from_page=f"/console/models/{OTHER}",
    )
    assert unarchived.status_code == 303


def test_replacement_impact_api(client: TestClient, console_url: URL) -> None:
    viewer = bearer(issue_token(console_url, Role.VIEWER))
    response = client.get(
        f"/admin/v1/models/{ACTIVE}/replacement-impact",
        params={"replacement": OTHER},
        headers=viewer,
    )
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["model_id"] == ACTIVE
    assert impact["replacement_model_id"] == OTHER
    assert set(impact) >= {
        "input_price_change_percent",
        "output_price_change_percent",
        "capabilities_lost",
        "context_length",
        "max_output_tokens",
        "tiers_losing_access",
    }
    itself = client.get(
        f"/admin/v1/models/{ACTIVE}/replacement-impact",
        params={"replacement": ACTIVE},
        headers=viewer,
    )
    assert itself.status_code == 422


def test_mark_legacy_answers_with_the_impact(client: TestClient, console_url: URL) -> None:
    editor = bearer(issue_token(console_url, Role.EDITOR))
    model_id = "o4-mini"
    response = client.post(
        f"/admin/v1/models/{model_id}/mark-legacy",
        json={"reason": "impact in answer", "replacement_model_id": ACTIVE},
        headers=editor,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "legacy"
    assert body["replacement_impact"]["replacement_model_id"] == ACTIVE
    back = client.post(
        f"/admin/v1/models/{model_id}/unmark-legacy", json={"reason": "undo"}, headers=editor
    )
    assert back.status_code == 200


def test_the_console_can_be_turned_off(console_url: URL) -> None:
    with serving(console_url, console__enabled="false") as client:
        assert client.get("/console/sign-in").status_code == 404
        assert client.get("/console/static/console.css").status_code == 404
        assert client.get("/v1/models").status_code == 200


def test_the_audit_filter_offers_the_import_webhook_and_sunset_actions(
    fresh: TestClient, console_url: URL
) -> None:
    sign_in(fresh, issue_token(console_url, Role.VIEWER, name="filter-check"))
    page = fresh.get("/console/audit")
    assert page.status_code == 200
    for action in (
        "archive",
        "catalog.imported",
        "import.sync",
        "sunset_approaching",
        "webhook_create",
        "webhook_replay",
        "token_create",
    ):
        assert f"<option>{action}</option>" in page.text, action
    filtered = fresh.get("/console/audit", params={"action": "token_create"})
    assert filtered.status_code == 200
    assert "filter-check" in filtered.text
