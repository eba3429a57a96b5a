"""The console's webhook pages over HTTP: create (the secret shown once; errors next to their
fields), the list with each subscription's state, pause and resume (also out of a failing
state), delete with confirmation, the delivery attempts, replay, the admin role and CSRF.
Delivery is off in this server: attempts and the failing state are written straight into the
database, as the dispatcher writes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from tests.console.helpers import ORIGIN, csrf_of, post_form, sign_in
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token

TARGET = "http://127.0.0.1:9/hooks"
SECRET = "whsec_" + "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0"  # base64 of 24 bytes


@pytest.fixture(scope="module")
def hooks_url(pg: PgServer) -> URL:
    url = pg.seeded_url()  # at head, with the shipped catalog
    return url


@pytest.fixture(scope="module")
def client(hooks_url: URL) -> Iterator[TestClient]:
    with serving(
        hooks_url, webhooks__allow_private_targets="true", webhooks__dispatch="false"
    ) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(hooks_url: URL) -> str:
    return issue_token(hooks_url, Role.ADMIN, name="hooks-admin")


@pytest.fixture
def signed(client: TestClient, admin: str) -> Iterator[TestClient]:
    client.cookies.clear()
    sign_in(client, admin)
    yield client
    client.cookies.clear()


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    assert found is not None, f"no error next to {name}"
    return found.group(1)


def create(client: TestClient, **data: Any) -> Any:
    form = {"url": TARGET, "events": ["model.created", "model.price_changed"], **data}
    return client.post(
        "/console/webhooks",
        data={**form, "csrf_token": csrf_of(client.get("/console/webhooks").text)},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )


def created_id(html: str) -> str:
    found = re.search(r"Subscription <span class=\"mono\">(wh_[0-9a-f]+)</span> created", html)
    assert found is not None, "no subscription was created"
    return found.group(1)


def sql(url: URL, statement: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def test_create_shows_the_secret_once_and_lists_the_subscription(
    signed: TestClient, admin: str
) -> None:
    made = create(signed)
    assert made.status_code == 201, made.text[:2000]
    webhook_id = created_id(made.text)
    secret = re.search(r'id="new-secret" class="mono" value="(whsec_[^"]+)"', made.text)
    assert secret is not None
    found = signed.get(f"/admin/v1/webhooks/{webhook_id}", headers=bearer(admin)).json()
    assert found["url"] == TARGET
    assert found["events"] == ["model.created", "model.price_changed"]
    assert found["created_by"] == "console:token:hooks-admin"
    listing = signed.get("/console/webhooks").text
    assert secret.group(1) not in listing
    assert f"/console/webhooks/{webhook_id}" in listing
    assert f'data-testid="status-{webhook_id}">active<' in listing
    given = create(signed, secret=SECRET)
    assert given.status_code == 201
    assert f'value="{SECRET}"' in given.text


def test_create_errors_show_next_to_their_fields(signed: TestClient) -> None:
    no_events = create(signed, events=[])
    assert no_events.status_code == 422
    assert "at least one event type" in field_error(no_events.text, "events")
    assert f'value="{TARGET}"' in no_events.text  # what was typed is kept
    scheme = create(signed, url="ftp://example.com/hooks")
    assert scheme.status_code == 422
    assert "http or https" in field_error(scheme.text, "url")
    secret = create(signed, secret="not-a-secret")
    assert secret.status_code == 422
    assert "whsec_" in field_error(secret.text, "secret")
    assert 'value="not-a-secret"' not in secret.text  # a secret is never echoed
    unknown = create(signed, events=["model.exploded"])
    assert unknown.status_code == 422
    assert field_error(unknown.text, "events")
    assert "Subscription <span" not in unknown.text


def test_pause_and_resume_also_out_of_a_failing_state(
    signed: TestClient, admin: str, hooks_url: URL
) -> None:
    webhook_id = created_id(create(signed).text)
    api = f"/admin/v1/webhooks/{webhook_id}"
    paused = post_form(
        signed,
        f"/console/webhooks/{webhook_id}/pause",
        {"back": "list"},
        from_page="/console/webhooks",
    )
    assert paused.status_code == 303
    assert paused.headers["location"] == "/console/webhooks"
    assert signed.get(api, headers=bearer(admin)).json()["status"] == "paused"
    assert f'data-testid="status-{webhook_id}">paused<' in signed.get("/console/webhooks").text
    resumed = post_form(
        signed,
        f"/console/webhooks/{webhook_id}/resume",
        {},
        from_page=f"/console/webhooks/{webhook_id}",
    )
    assert resumed.status_code == 303
    assert resumed.headers["location"] == f"/console/webhooks/{webhook_id}"
    assert signed.get(api, headers=bearer(admin)).json()["status"] == "active"
    sql(
        hooks_url,
        "UPDATE webhook_subscriptions SET is_active = false, failing_since = now(),"
        " last_error = 'HTTP 500' WHERE id = :id",
        id=webhook_id,
    )
    page = signed.get(f"/console/webhooks/{webhook_id}").text
    assert "Failing since" in page
    assert "HTTP 500" in page
    assert f'data-testid="status-{webhook_id}">failing<' in signed.get("/console/webhooks").text
    post_form(
        signed,
        f"/console/webhooks/{webhook_id}/resume",
        {},
        from_page=f"/console/webhooks/{webhook_id}",
    )
    now = signed.get(api, headers=bearer(admin)).json()
    assert (now["status"], now["failing_since"]) == ("active", None)


def test_the_subscription_page_shows_its_recent_attempts(
    signed: TestClient, hooks_url: URL
) -> None:
    webhook_id = created_id(create(signed).text)
    for n, (status, code, latency, error) in enumerate(
        [("failed", 503, 1234.4, "HTTP 503"), ("delivered", 204, 12.3, None)]
    ):
        sql(
            hooks_url,
            "INSERT INTO webhook_attempts (subscription_id, message_id, event_type,"
            " catalog_revision, status, response_code, latency_ms, error)"
            " VALUES (:id, :message, 'model.created', 7, :status, :code, :latency, :error)",
            id=webhook_id,
            message=f"msg_{n}",
            status=status,
            code=code,
            latency=latency,
            error=error,
        )
    page = signed.get(f"/console/webhooks/{webhook_id}").text
    attempts = page.split("Recent delivery attempts")[1]
    assert attempts.index("msg_1") < attempts.index("msg_0")  # newest first
    assert ">204<" in attempts
    assert ">503<" in attempts
    assert "1234 ms" in attempts
    assert "12 ms" in attempts
    assert "HTTP 503" in attempts
    listing = signed.get("/console/webhooks").text
    row = listing.split(f'/console/webhooks/{webhook_id}"')[1].split("</tr>")[0]
    assert "delivered, HTTP 204" in row


def test_replay_from_a_revision(signed: TestClient, admin: str) -> None:
    webhook_id = created_id(create(signed).text)
    page = f"/console/webhooks/{webhook_id}"
    replay = f"{page}/replay"
    not_a_number = post_form(signed, replay, {"since": "soon"}, from_page=page)
    assert not_a_number.status_code == 422
    assert "revision number" in field_error(not_a_number.text, "since")
    ahead = post_form(signed, replay, {"since": "999999"}, from_page=page)
    assert ahead.status_code == 422
    assert "the catalog is at revision" in field_error(ahead.text, "since")
    done = post_form(signed, replay, {"since": "1"}, from_page=page)
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?replayed=1"
    assert "Delivering again from revision 1" in signed.get(done.headers["location"]).text
    found = signed.get(f"/admin/v1/webhooks/{webhook_id}", headers=bearer(admin)).json()
    assert found["cursor_revision"] == 0


def test_delete_asks_first(signed: TestClient, admin: str) -> None:
    webhook_id = created_id(create(signed).text)
    confirm = signed.get(f"/console/webhooks/{webhook_id}/delete")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text
    assert signed.get(f"/admin/v1/webhooks/{webhook_id}", headers=bearer(admin)).status_code == 200
    deleted = post_form(
        signed,
        f"/console/webhooks/{webhook_id}/delete",
        {},
        from_page=f"/console/webhooks/{webhook_id}/delete",
    )
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/console/webhooks"
    assert signed.get(f"/admin/v1/webhooks/{webhook_id}", headers=bearer(admin)).status_code == 404
    assert signed.get(f"/console/webhooks/{webhook_id}").status_code == 404


def test_webhooks_need_the_admin_role_and_the_csrf_token(
    client: TestClient, hooks_url: URL, admin: str
) -> None:
    client.cookies.clear()
    sign_in(client, admin)
    webhook_id = created_id(create(client).text)
    client.cookies.clear()
    sign_in(client, issue_token(hooks_url, Role.EDITOR))
    models = client.get("/console/models").text
    assert 'href="/console/webhooks"' not in models
    token = csrf_of(models)
    for path in ("/console/webhooks", f"/console/webhooks/{webhook_id}"):
        assert client.get(path).status_code == 403, path
    for path in (
        "/console/webhooks",
        f"/console/webhooks/{webhook_id}/pause",
        f"/console/webhooks/{webhook_id}/delete",
        f"/console/webhooks/{webhook_id}/replay",
    ):
        refused = client.post(
            path,
            data={"url": TARGET, "events": "model.created", "since": "1", "csrf_token": token},
            headers={"Origin": ORIGIN},
            follow_redirects=False,
        )
        assert refused.status_code == 403, path
    client.cookies.clear()
    sign_in(client, admin)
    before = len(client.get("/admin/v1/webhooks", headers=bearer(admin)).json()["data"])
    forged = client.post(
        "/console/webhooks",
        data={"url": TARGET, "events": "model.created", "csrf_token": "forged"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    elsewhere = post_form(
        client,
        f"/console/webhooks/{webhook_id}/delete",
        {},
        from_page="/console/webhooks",
        origin="https://evil.example",
    )
    assert elsewhere.status_code == 403
    after = client.get("/admin/v1/webhooks", headers=bearer(admin)).json()["data"]
    assert len(after) == before
    assert 'href="/console/webhooks"' in client.get("/console/models").text
    client.cookies.clear()
