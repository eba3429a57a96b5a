"""The console's price history and scheduled changes on the model page: schedule one, see it as
the next change and in the history (recorded by the console user), cancel it; a viewer sees
the history but no form; a refused change says why and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from tests.console.helpers import post_form, sign_in
from tests.fixtures.databases import PgServer
from tests.fixtures.http import serving
from tests.fixtures.tokens import issue_token

MODEL = "gpt-5"
PAGE = f"/console/models/{MODEL}"


@pytest.fixture
def client(pg: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, URL]]:
    monkeypatch.setenv("MODELREG_PRICES__ENABLED", "false")
    url = pg.seeded_url()  # at head, with the shipped catalog
    with serving(url) as test_client:
        yield test_client, url


def rows(html: str) -> list[str]:
    table = html.split('id="price-history"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-testid="price-\d+">(.*?)</tr>', table, re.S)


def test_an_editor_schedules_and_cancels_a_price_on_the_model_page(
    client: tuple[TestClient, URL],
) -> None:
    app, url = client
    assert sign_in(app, issue_token(url, Role.EDITOR, name="pricing-editor")).status_code == 303
    page = app.get(PAGE).text
    assert "none scheduled" in page
    assert len(rows(page)) == 1
    when = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    posted = post_form(
        app,
        f"{PAGE}/prices",
        {
            "effective_from": when.strftime("%Y-%m-%dT%H:%M"),
            "input": "1.5",
            "output": "6",
            "reason": "list price",
        },
        from_page=PAGE,
    )
    assert posted.status_code == 303, posted.text
    page = app.get(PAGE).text
    nxt = page.split('data-testid="next-price">', 1)[1].split("</dd>", 1)[0]
    assert when.isoformat() in nxt
    assert "1.5" in nxt
    assert "3.75" in nxt
    history = rows(page)
    assert len(history) == 2
    assert "scheduled" in history[0], history[0]
    assert "console:token:pricing-editor" in history[0], history[0]
    assert "list price" in history[0]
    entry = re.search(r"/prices/(\d+)/cancel", page)
    assert entry is not None
    cancelled = post_form(app, f"{PAGE}/prices/{entry.group(1)}/cancel", {}, from_page=PAGE)
    assert cancelled.status_code == 303, cancelled.text
    page = app.get(PAGE).text
    assert "none scheduled" in page
    assert "cancelled by" in rows(page)[0]


def test_a_refused_schedule_says_why_and_writes_nothing(client: tuple[TestClient, URL]) -> None:
    app, url = client
    assert sign_in(app, issue_token(url, Role.EDITOR, name="pricing-editor-2")).status_code == 303
    past = post_form(
        app,
        f"{PAGE}/prices",
        {"effective_from": "2001-01-01T00:00", "input": "1", "output": "", "reason": ""},
        from_page=PAGE,
    )
    assert past.status_code == 422
    assert "effectiveFrom" in past.text
    assert "future" in past.text
    bad = post_form(
        app,
        f"{PAGE}/prices",
        {"effective_from": "2099-01-01T00:00", "input": "cheap", "output": "", "reason": ""},
        from_page=PAGE,
    )
    assert bad.status_code == 422
    assert "inputCostUsdPerMillionTokens" in bad.text
    assert len(rows(app.get(PAGE).text)) == 1


def test_a_viewer_sees_the_history_but_no_form(client: tuple[TestClient, URL]) -> None:
    app, url = client
    assert sign_in(app, issue_token(url, Role.VIEWER, name="pricing-viewer")).status_code == 303
    page = app.get(PAGE).text
    assert len(rows(page)) == 1
    assert 'id="schedule-price"' not in page
