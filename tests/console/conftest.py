"""The browser tests' fixtures: one seeded database served by a real uvicorn on 127.0.0.1, its
tokens, and one Chromium (Debian's, at /usr/bin/chromium), for the module of browser tests.

Module-scoped on purpose: while Playwright's synchronous API is open, its event loop counts as
running in this thread, and the other tests' `asyncio.run` would fail.

Without a Chromium the browser tests are skipped, saying so; `.ci/run` installs one."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from modelreg.catalog.seed import seed_catalog
from modelreg.config import get_settings
from tests.fixtures.databases import PgServer
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
    url = pg.database_at("head")
    seed_catalog(url)
    tokens = {
        "admin": issue_token(url, Role.ADMIN, name="browser-admin"),
        "editor": issue_token(url, Role.EDITOR, name="browser-editor"),
        "editor2": issue_token(url, Role.EDITOR, name="browser-editor-2"),
        "viewer": issue_token(url, Role.VIEWER, name="browser-viewer"),
    }
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELREG_DATABASE_URL", url.render_as_string(hide_password=False))
        patch.setenv("MODELREG_LOG_REQUESTS", "false")
        patch.setenv("MODELREG_PRICING__TIER_MARGINS", '{"free": "0.25"}')
        get_settings.cache_clear()
        config = uvicorn.Config(
            "modelreg.app:create_app", factory=True, lifespan="on", ws="none", log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    pytest.fail("the console's server did not start")
                time.sleep(0.02)
            yield Live(f"http://127.0.0.1:{port}", url, tokens)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            listening.close()
            get_settings.cache_clear()


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
