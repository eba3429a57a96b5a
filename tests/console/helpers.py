"""What the console tests share: signing in with a TestClient and reading a page's CSRF token."""

from __future__ import annotations

import re

import httpx2
from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORIGIN = "http://testserver"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> httpx2.Response:
    page = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"token": token, "csrf_token": csrf_of(page.text)},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )


def post_form(
    client: TestClient, path: str, data: dict[str, str], *, from_page: str, origin: str = ORIGIN
) -> httpx2.Response:
    """POST a console form with the CSRF token of `from_page`, as a browser on `origin`."""
    token = csrf_of(client.get(from_page).text)
    return client.post(
        path,
        data={**data, "csrf_token": token},
        headers={"Origin": origin},
        follow_redirects=False,
    )
