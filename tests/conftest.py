"""Fixtures shared by every test: a real PostgreSQL, databases cloned from templates built once
(by the migrations, the seed and the token service), and the app over them. What they are made
of lives in tests/fixtures."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from modelreg.catalog.seed import SeedModel, load_seed_models
from modelreg.config import get_settings
from modelreg.db import embedded
from modelreg.db.engine import sync_engine
from tests.fixtures.catalog import Catalog, open_catalog
from tests.fixtures.databases import Clones, PgServer, Seeded

# The sunset scheduler would archive the shipped models whose sunset date has passed as soon
# as an app starts; the tests of the sunset turn it on (or run it) themselves.
os.environ.setdefault("MODELREG_SUNSET__ENABLED", "false")


def _scratch_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: pytest resets its base directory to mode 0700 whenever a
    # session starts, which would lock out the unprivileged user the embedded server runs as.
    path = Path(tempfile.mkdtemp(prefix="modelreg-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


scratch_dir = pytest.fixture(_scratch_dir)


# Where the embedded server's last log lines are kept when tests failed, for the summary.
_SERVER_LOG = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def pg(request: pytest.FixtureRequest) -> Iterator[PgServer]:
    for scratch in _scratch_dir():
        server = PgServer.from_environment(scratch)
        yield server
        if request.session.testsfailed and server.log is not None:
            free = shutil.disk_usage(scratch).free / 2**30
            request.config.stash[_SERVER_LOG] = [
                f"(free space where the server keeps its data: {free:.1f} GiB)",
                *server.log_tail(),
            ]
        server.drop_all()
        embedded.stop(scratch)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """When tests failed, the end of the embedded server's log: a server that stopped or
    refused connections says why there."""
    lines = config.stash.get(_SERVER_LOG, [])
    if lines:
        terminalreporter.section("embedded PostgreSQL log (last lines)")
        for line in lines:
            terminalreporter.write_line(line)


# A run that overstays this is ended (with its summary) rather than left to hang: each test has
# its own bound too (`timeout` in pyproject.toml).
SESSION_LIMIT_S = float(os.environ.get("MODELREG_TEST_SESSION_LIMIT_S", "1800"))
_STARTED = time.monotonic()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if time.monotonic() - _STARTED > SESSION_LIMIT_S:
        pytest.exit(
            f"the test session ran longer than {SESSION_LIMIT_S:.0f} s"
            f" (MODELREG_TEST_SESSION_LIMIT_S); stopped before {item.nodeid}",
            returncode=1,
        )


@pytest.fixture
def database_at(pg: PgServer) -> Callable[[str | None], URL]:
    """Make a fresh database at a revision: `database_at("0002_expand")`."""
    return pg.database_at


@pytest.fixture
def head_url(pg: PgServer) -> URL:
    return pg.database_at("head")


@pytest.fixture(scope="session")
def shipped() -> list[SeedModel]:
    """The shipped catalog, validated, in file order."""
    return load_seed_models()


@pytest.fixture
def seeded_url(pg: PgServer) -> URL:
    """A fresh database at head with the shipped catalog, of the test's own."""
    return pg.seeded_url()


@pytest.fixture(scope="session")
def clones(pg: PgServer) -> Iterator[Clones]:
    """Copies of the seeded catalog with a token per role, made ahead."""
    made = Clones(pg)
    yield made
    made.close()


@pytest.fixture
def seeded(clones: Clones) -> Iterator[Seeded]:
    """A fresh copy of the seeded catalog with a token per role, of the test's own."""
    copy = clones.take()
    yield copy
    clones.done(copy)


@pytest.fixture
def catalog(clones: Clones, use_database: Callable[[URL], None]) -> Iterator[Catalog]:
    """The app over a fresh copy of the seeded catalog, with its tokens and SQL to inspect it."""
    yield from open_catalog(clones, use_database)


@pytest.fixture
def engine_for() -> Iterator[Callable[[URL], Engine]]:
    engines: list[Engine] = []

    def make(url: URL) -> Engine:
        engine = sync_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[URL], None]]:
    """Point modelreg's settings (and so the CLI and the app) at a database."""

    def point(url: URL) -> None:
        monkeypatch.setenv("MODELREG_DATABASE_URL", url.render_as_string(hide_password=False))
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


def refresh_snapshot(client: TestClient) -> None:
    """Make a running app serve what the database holds now (after changes made with plain SQL,
    which send no notification and would otherwise wait for the periodic revision check)."""
    app: Any = client.app
    assert client.portal is not None, "use the TestClient as a context manager"
    client.portal.call(app.state.snapshot.reload)
