"""The console in a real browser (Chromium driven by Playwright): sign-in, roles, editing with
its validation and conflicts, lifecycle actions, revert, tokens, CSRF, and accessibility (axe).
Each page visited is also photographed (see docs/console.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest

from modelreg.db import jsonb
from tests.admin.api import model_body
from tests.console.conftest import Live
from tests.events.receiver import Receiver
from tests.fixtures.models import base_meta
from tests.fixtures.waiting import poll, until
from tests.imports.helpers import DATA

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def new_context(browser: Any, live: Live) -> Iterator[Any]:
    """Make browser contexts (separate cookie jars) that are closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(base_url=live.base_url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


_STATES: dict[str, Any] = {}


def signed_in(new_context: Any, live: Live, role: str, **options: Any) -> Any:
    """A page signed in with the token of `role`, on the catalog (signed in through the form
    once per role and session; later contexts start with that session's cookie)."""
    if role in _STATES:
        page = new_context(storage_state=_STATES[role], **options).new_page()
        page.goto("/console/models")
        return page
    context = new_context(**options)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_label("API token").fill(live.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/models")
    _STATES[role] = context.storage_state()
    return page


def api(live: Live, role: str = "editor") -> httpx2.Client:
    return httpx2.Client(
        base_url=live.base_url,
        headers={"Authorization": f"Bearer {live.tokens[role]}"},
        timeout=30,
    )


def create_model(live: Live, **meta: Any) -> str:
    model_id = f"b-{uuid.uuid4().hex[:10]}"
    with api(live) as client:
        response = client.post(
            "/admin/v1/models",
            content=jsonb.dumps(model_body(model_id, base_meta(**meta))),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 201, response.text
    return model_id


def public(live: Live, model_id: str) -> httpx2.Response:
    with httpx2.Client(base_url=live.base_url, timeout=30) as client:
        return client.get(f"/v1/models/{model_id}")


def shoot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def serious_violations(page: Any) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the page."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_sign_in_out_and_a_bad_token(new_context: Any, live: Live, screenshots: Path) -> None:
    page = new_context().new_page()
    page.goto("/console/models")
    page.wait_for_url("**/console/sign-in")
    page.get_by_label("API token").fill("mr_unknown_secret")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That API token is not valid")
    shoot(page, screenshots, "sign-in")
    page.get_by_label("API token").fill(live.tokens["viewer"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/models")
    assert page.get_by_test_id("role").text_content() == "viewer"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    page.goto("/console/models")
    page.wait_for_url("**/console/sign-in")


def test_a_viewer_sees_no_edit_controls_and_forcing_a_url_is_403(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    page = signed_in(new_context, live, "viewer")
    assert page.get_by_role("link", name="New model").count() == 0
    page.goto("/console/models/o3")
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("link", name="Archive").count() == 0
    assert page.get_by_role("link", name=re.compile("^Revert")).count() == 0
    response = page.goto("/console/models/o3/edit")
    assert response is not None
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    shoot(page, screenshots, "forbidden")


def test_an_editor_changes_a_price_and_the_credits_follow(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    model_id = create_model(live)
    page = signed_in(new_context, live, "editor")
    page.goto(f"/console/models/{model_id}/edit")
    page.get_by_label("Input (USD / million tokens)").fill("3.5")
    page.get_by_label("Output (USD / million tokens)").fill("10.5")
    page.get_by_label("Reason for this change (required)").fill("new list price")
    shoot(page, screenshots, "edit")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/console/models/{model_id}")
    # (3.5 + 10.5) / 2 = 7 credits per 1k; free carries a 25 % margin in this server.
    assert page.get_by_test_id("credits-pro").inner_text() == "7"
    assert page.get_by_test_id("credits-free").inner_text() == "8.75"
    served = jsonb.loads(public(live, model_id).text)
    assert served["credits"]["per_1k_tokens"] == Decimal("7")


def test_a_validation_error_shows_at_its_field(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    model_id = create_model(live)
    page = signed_in(new_context, live, "editor")
    page.goto(f"/console/models/{model_id}/edit")
    page.get_by_label("Max output (tokens, empty: unknown)").fill("999999")
    page.get_by_label("Reason for this change (required)").fill("too long")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#maxOutputTokens-error")
    assert "exceeds contextLength" in error.inner_text()
    assert page.get_by_label("Max output (tokens, empty: unknown)").get_attribute(
        "aria-invalid"
    ) == ("true")
    shoot(page, screenshots, "validation-error")
    assert page.locator(".field-error").count() == 1


def test_two_editors_at_once_the_second_sees_what_changed_and_applies_again(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    model_id = create_model(live)
    first = signed_in(new_context, live, "editor")
    second = signed_in(new_context, live, "editor2")
    first.goto(f"/console/models/{model_id}/edit")
    second.goto(f"/console/models/{model_id}/edit")
    first.get_by_label("Display name").fill("Renamed by the first")
    first.get_by_label("Reason for this change (required)").fill("first")
    first.get_by_role("button", name="Save").click()
    first.wait_for_url(f"**/console/models/{model_id}")
    second.get_by_label("Description").fill("Described by the second")
    second.get_by_label("Reason for this change (required)").fill("second")
    second.get_by_role("button", name="Save").click()
    conflict = second.locator(".conflict")
    assert "Someone changed this model" in conflict.inner_text()
    assert "meta.displayName" in conflict.inner_text()
    assert "Renamed by the first" in conflict.inner_text()
    shoot(second, screenshots, "conflict")
    # The second's values are kept; applying again saves them over the current version, and
    # the field the second did not touch comes back as the form had it.
    second.get_by_label("Display name").fill("Renamed by the first")
    second.get_by_role("button", name="Apply again").click()
    second.wait_for_url(f"**/console/models/{model_id}")
    served = jsonb.loads(public(live, model_id).text)
    assert served["description"] == "Described by the second"
    assert served["display_name"] == "Renamed by the first"


def test_mark_legacy_with_the_impact_preview(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    replacement = create_model(live, capabilities=["text"], contextLength=4096)
    model_id = create_model(live, capabilities=["text", "code"])
    page = signed_in(new_context, live, "editor")
    page.goto(f"/console/models/{model_id}")
    page.get_by_role("link", name="Mark legacy").click()
    page.get_by_label("Deprecation notice").fill("Moving on")
    page.get_by_label("Sunset date").fill("2099-01-31")
    page.get_by_label("Replacement").select_option(replacement)  # previews (JavaScript)
    impact = page.locator("#impact")
    impact.wait_for()
    assert page.get_by_test_id("capabilities-lost").inner_text() == "code"
    assert "8,192 → 4,096" in impact.inner_text()
    page.get_by_label("Reason (required)").fill("superseded")
    shoot(page, screenshots, "mark-legacy")
    page.get_by_role("button", name="Mark legacy").click()
    page.wait_for_url(f"**/console/models/{model_id}")
    assert "days left" in page.locator("#h-legacy + dl").inner_text()
    shoot(page, screenshots, "model")
    served = public(live, model_id)
    assert served.status_code == 200
    assert "Deprecation" in served.headers
    assert served.headers["Sunset"]


def test_archive_needs_force_when_others_name_it(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    target = create_model(live)
    named_by = create_model(live)
    with api(live) as client:
        marked = client.post(
            f"/admin/v1/models/{named_by}/mark-legacy",
            json={"reason": "points at target", "replacement_model_id": target},
        )
        assert marked.status_code == 200, marked.text
    page = signed_in(new_context, live, "editor")
    page.goto(f"/console/models/{target}/archive")
    assert named_by in page.locator(".conflict").inner_text()
    page.get_by_label("Reason (required)").fill("retired")
    shoot(page, screenshots, "archive")
    page.get_by_role("button", name="Archive", exact=True).click()
    assert page.get_by_role("heading", name="Not done").is_visible()
    page.go_back()
    page.get_by_label("Reason (required)").fill("retired")
    page.get_by_label(re.compile("Archive anyway")).check()
    page.get_by_role("button", name="Archive", exact=True).click()
    page.wait_for_url(f"**/console/models/{target}")
    assert page.locator(".page-head .badge").inner_text() == "archived"
    assert public(live, target).status_code != 200


def test_an_admin_reverts_with_confirmation(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    model_id = create_model(live)
    with api(live) as client:
        changed = client.patch(
            f"/admin/v1/models/{model_id}",
            content=jsonb.dumps({"meta": {"displayName": "Changed"}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert changed.status_code == 200
    page = signed_in(new_context, live, "admin")
    page.goto(f"/console/models/{model_id}")
    page.get_by_role("link", name="Revert to version 1").click()
    assert "meta.displayName" in page.locator("table.diff").inner_text()
    page.get_by_label("Reason (required)").fill("undo the rename")
    shoot(page, screenshots, "revert")
    page.get_by_role("button", name="Confirm revert").click()
    page.wait_for_url(f"**/console/models/{model_id}")
    assert "Version 3" in page.locator(".timeline").inner_text()
    assert jsonb.loads(public(live, model_id).text)["display_name"] == "Test Model"


def test_the_tokens_page_creates_shows_once_and_revokes(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    page = signed_in(new_context, live, "admin", permissions=["clipboard-read", "clipboard-write"])
    page.goto("/console/tokens")
    page.get_by_label("Name").fill("browser-made")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("mr_")
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shoot(page, screenshots, "tokens")
    with httpx2.Client(base_url=live.base_url, timeout=30) as client:
        auth = {"Authorization": f"Bearer {secret}"}
        assert client.get("/admin/v1/models?limit=1", headers=auth).status_code == 200
        page.get_by_role("button", name="Revoke browser-made").click()
        page.wait_for_url("**/console/tokens")
        assert client.get("/admin/v1/models?limit=1", headers=auth).status_code == 401
    page.reload()
    assert secret not in page.content()


def test_a_form_posted_from_another_origin_is_refused(new_context: Any, live: Live) -> None:
    model_id = create_model(live)
    page = signed_in(new_context, live, "editor")
    page.goto(f"/console/models/{model_id}/archive")
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    # A page on another origin that posts the archive form (with a stolen CSRF token even).
    evil = "http://evil.test/form"
    page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<form method="post" action="{live.base_url}/console/models/{model_id}/archive">'
                f'<input name="csrf_token" value="{csrf}"><input name="reason" value="x">'
                "<button>go</button></form>"
            ),
        ),
    )
    page.goto(evil)
    page.get_by_role("button", name="go").click()
    page.wait_for_load_state()
    # SameSite=Strict keeps the cookie home, so the console sees no session.
    assert "/console/sign-in" in page.url
    # With the cookie sent anyway, the Origin check refuses the form.
    forged = page.request.post(
        f"{live.base_url}/console/models/{model_id}/archive",
        form={"csrf_token": csrf, "reason": "x"},
        headers={"Origin": "http://evil.test"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert public(live, model_id).status_code == 200


PLAN_PAGE = re.compile(r".*/console/imports/[0-9a-f]{32}$")


def test_an_editor_makes_reviews_and_applies_an_import_plan(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    page = signed_in(new_context, live, "editor")
    page.get_by_role("link", name="Imports").click()
    page.wait_for_url("**/console/imports")
    page.get_by_role("button", name="Make the plan").click()  # no list given
    assert "upload the list" in page.locator("#file-error").inner_text()
    page.get_by_label("Source").select_option("litellm")
    page.get_by_label(re.compile("^Upload the list")).set_input_files(DATA / "litellm.json")
    page.get_by_role("button", name="Make the plan").click()
    page.wait_for_url(PLAN_PAGE)
    assert page.get_by_test_id("count-add").inner_text() == "2"
    assert page.get_by_test_id("count-change").inner_text() == "3"
    assert page.get_by_test_id("count-deprecate").inner_text() == "2"
    changes = page.locator("#group-change").inner_text()
    assert "meta.inputCostUsdPerMillionTokens" in changes
    assert re.search(r"[+-]?\d+(\.\d+)? %", changes)
    assert serious_violations(page) == []
    shoot(page, screenshots, "import-plan")
    # The guardrail: a large price change needs allowing, said next to the checkbox.
    page.get_by_label("Reason (required)").fill("monthly sync")
    page.get_by_role("button", name="Apply the plan").click()
    assert "Allow large changes" in page.locator("#allow_large_changes-error").inner_text()
    shoot(page, screenshots, "import-large-changes")
    # Someone edits a model the plan changes: applying is refused as stale, nothing applied.
    with api(live) as client:
        edited = client.patch(
            "/admin/v1/models/gpt-4.1",
            content=jsonb.dumps({"meta": {"description": "edited by hand"}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert edited.status_code == 200, edited.text
    page.get_by_label("Allow large changes").check()
    page.get_by_role("button", name="Apply the plan").click()
    stale = page.locator(".conflict", has_text="This plan is stale")
    assert "gpt-4.1" in stale.inner_text()
    assert serious_violations(page) == []
    shoot(page, screenshots, "import-stale")
    assert public(live, "acme-chat-1").status_code == 404
    # A new, narrower plan (one provider) applies.
    page.get_by_role("link", name="Make a new plan").click()
    page.wait_for_url("**/console/imports")
    page.get_by_label(re.compile("^Only these providers")).fill("anthropic")
    page.get_by_label(re.compile("^Upload the list")).set_input_files(DATA / "litellm.json")
    page.get_by_role("button", name="Make the plan").click()
    page.wait_for_url(PLAN_PAGE)
    assert page.get_by_test_id("count-change").inner_text() == "1"
    assert page.get_by_test_id("count-add").inner_text() == "0"
    page.get_by_label("Reason (required)").fill("anthropic sync")
    page.get_by_role("button", name="Apply the plan").click()
    page.wait_for_url(PLAN_PAGE)
    assert page.locator(".page-head .badge").inner_text() == "applied"
    assert page.get_by_role("button", name="Apply the plan").count() == 0
    with api(live) as client:
        meta = client.get("/admin/v1/models/claude-sonnet-4-5").json()["meta"]
    assert meta["importSource"] == {"source": "litellm", "key": "anthropic/claude-sonnet-4-5"}


def test_an_admin_subscribes_a_webhook_sees_its_attempts_replays_and_deletes_it(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        page = signed_in(
            new_context, live, "admin", permissions=["clipboard-read", "clipboard-write"]
        )
        page.get_by_role("link", name="Webhooks").click()
        page.wait_for_url("**/console/webhooks")
        page.get_by_label("URL (http or https)").fill(receiver.url)
        page.get_by_role("button", name="Create subscription").click()
        assert "at least one event type" in page.locator("#events-error").inner_text()
        page.get_by_label("model.created", exact=True).check()
        page.get_by_label("model.updated", exact=True).check()
        page.get_by_role("button", name="Create subscription").click()
        secret = page.locator("#new-secret").input_value()
        assert secret.startswith("whsec_")
        page.get_by_role("button", name="Copy").click()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        webhook_id = page.locator("#h-secret .mono").inner_text()
        shoot(page, screenshots, "webhooks")
        receiver.secret = secret
        create_model(live)  # a catalog change: delivered to the receiver
        with api(live, "admin") as client:
            attempts = poll(
                lambda: client.get(f"/admin/v1/webhooks/{webhook_id}/attempts").json()["data"],
                lambda found: len(found) > 0,
            )
        assert attempts, "nothing was delivered"
        assert attempts[0]["status"] == "delivered", attempts
        page.get_by_role("link", name=receiver.url, exact=True).click()
        page.wait_for_url(f"**/console/webhooks/{webhook_id}")
        table = page.locator("table", has_text="Latency").inner_text()
        assert "delivered" in table
        assert "model.created" in table
        assert "200" in table
        # Replay from the revision delivered: the receiver gets the same message again.
        page.get_by_label("From revision").fill(str(attempts[0]["catalog_revision"]))
        page.get_by_role("button", name="Replay").click()
        assert "Delivering again" in page.get_by_role("status").inner_text()
        assert until(lambda: len(receiver.received) >= 2)
        assert receiver.received[1].webhook_id == receiver.received[0].webhook_id
        page.reload()
        assert serious_violations(page) == []
        shoot(page, screenshots, "webhook")
        page.get_by_role("button", name="Pause").click()
        page.wait_for_url(f"**/console/webhooks/{webhook_id}")
        assert page.get_by_test_id("status").inner_text() == "paused"
        page.get_by_role("link", name="Delete", exact=True).click()
        page.wait_for_url(f"**/console/webhooks/{webhook_id}/delete")
        assert serious_violations(page) == []
        shoot(page, screenshots, "webhook-delete")
        page.get_by_role("button", name="Delete subscription").click()
        page.wait_for_url("**/console/webhooks")
        assert receiver.url not in page.content()
    finally:
        receiver.stop()


# Every page of the console, as an admin sees it.
PAGES = {
    "catalog": "/console/models",
    "model-o3": "/console/models/o3",
    "model-legacy": "/console/models/gpt-4o",
    "new-model": "/console/models/new",
    "edit-o3": "/console/models/o3/edit",
    "mark-legacy-preview": "/console/models/o3/mark-legacy?replacement=gpt-5",
    "archive-o3": "/console/models/o3/archive",
    "audit": "/console/audit",
    "tokens-list": "/console/tokens",
    "imports": "/console/imports",
    "webhooks-list": "/console/webhooks",
    "health": "/console/health",
}


def test_every_page_has_no_serious_accessibility_violations(
    new_context: Any, live: Live, screenshots: Path
) -> None:
    found: dict[str, list[str]] = {}

    def check(page: Any, name: str) -> None:
        bad = serious_violations(page)
        if bad:
            found[name] = bad

    anonymous = new_context().new_page()
    anonymous.goto("/console/sign-in")
    check(anonymous, "sign-in")
    page = signed_in(new_context, live, "admin")
    for name, path in PAGES.items():
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 200, path
        check(page, name)
        shoot(page, screenshots, name)
    viewer = signed_in(new_context, live, "viewer")
    viewer.goto("/console/tokens")
    check(viewer, "forbidden")
    phone = signed_in(new_context, live, "editor", viewport=PHONE)
    for name, path in (("phone-catalog", "/console/models"), ("phone-model", "/console/models/o3")):
        phone.goto(path)  # the same pages as above, narrower: photographed, not checked again
        shoot(phone, screenshots, name)
        # Readable at 390 px: the page itself does not scroll sideways (wide tables do, inside
        # their own box).
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert found == {}
