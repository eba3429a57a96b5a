"""The browser tests' fixtures: one seeded database served by a real uvicorn on 127.0.0.1, its
tokens, and one Chromium (Debian's, at /usr/bin/chromium), for the module of browser tests.

Module-scoped on purpose: while Playwright's synchronous API is open, its event loop counts as
running in this thread, and the other tests' `asyncio.run` would fail.

Without a Chromium the browser tests are skipped, saying so; `.ci/run` installs one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from tests.fixtures.databases import PgServer
from tests.fixtures.live import live_instances
from tests.fixtures.tokens import issue_token

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    configured = os.environ.get("MODELREG_CHROMIUM")
    for candidate in (configured, *CHROMIUM_PATHS, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass(frozen=True)
class Live:
    """The served app: its base URL, its database and a token of each role."""

    base_url: str
    url: URL
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def live(pg: PgServer) -> Iterator[Live]:
    url = pg.seeded_url()  # at head, with the shipped catalog
    tokens = {
        "admin": issue_token(url, Role.ADMIN, name="browser-admin"),
        "editor": issue_token(url, Role.EDITOR, name="browser-editor"),
        "editor2": issue_token(url, Role.EDITOR, name="browser-editor-2"),
        "viewer": issue_token(url, Role.VIEWER, name="browser-viewer"),
    }
    with live_instances(
        url,
        1,
        pricing__tier_margins='{"free": "0.25"}',
        webhooks__allow_private_targets="true",  # the webhook test's receiver is on 127.0.0.1
    ) as (base,):
        yield Live(base, url, tokens)


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "browser tests skipped: no Chromium found (apt-get install chromium, or set "
            "MODELREG_CHROMIUM); .ci/run installs it"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests skipped: the playwright package is not installed")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Iterator[Path]:
    """Where the tests put their screenshots: MODELREG_CONSOLE_SCREENSHOTS (docs/console when
    refreshing the user guide's pictures), else a temporary directory."""
    configured = os.environ.get("MODELREG_CONSOLE_SCREENSHOTS")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="modelreg-console-shots-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
