"""Fixtures of the public read side's tests: seeded databases and the app serving them.

`client` is one app over one seeded database per module, for the tests that only read. A test
that changes the database or the settings (tier margins) takes a fresh app with `serve`: prepare
`seeded_url` and the settings, then call `serve()`. The tests of running instances (snapshot,
listener, edge) take `reader`, one instance per module over a copy of the seeded catalog, or
`serve_seeded`, a fresh copy (a token per role) the settings point at, for instances of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.config import get_settings
from tests.fixtures.databases import Clones, PgServer, Seeded
from tests.fixtures.http import serving
from tests.public.instances import Reader

FREE_MARGIN = Decimal("0.25")
PRO_MARGIN = Decimal("0.25")


@pytest.fixture(scope="module")
def client(pg: PgServer) -> Iterator[TestClient]:
    """The app over a seeded database shared by the module: only read through it."""
    with serving(pg.seeded_url()) as test_client:
        yield test_client


@pytest.fixture
def serve(
    seeded_url: URL, use_database: Callable[[URL], None]
) -> Iterator[Callable[[], TestClient]]:
    """Start the app over `seeded_url`; call it once the database is prepared."""
    use_database(seeded_url)
    with ExitStack() as stack:

        def start() -> TestClient:
            return stack.enter_context(TestClient(create_app()))

        yield start


def _margins(value: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELREG_PRICING__TIER_MARGINS", value)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def free_margin() -> Iterator[Decimal]:
    """The free tier charges FREE_MARGIN over the base credits."""
    for _ in _margins(f'{{"free": "{FREE_MARGIN}"}}'):
        yield FREE_MARGIN


@pytest.fixture
def pro_margin() -> Iterator[Decimal]:
    """The pro tier charges PRO_MARGIN over the base credits."""
    for _ in _margins(f'{{"pro": "{PRO_MARGIN}"}}'):
        yield PRO_MARGIN


@pytest.fixture
def serve_seeded(seeded: Seeded, use_database: Callable[[URL], None]) -> Seeded:
    """A fresh copy of the seeded catalog (a token per role), with modelreg's settings pointed
    at it."""
    use_database(seeded.url)
    return seeded


@pytest.fixture(scope="module")
def reader(clones: Clones) -> Iterator[Reader]:
    """One instance for the tests of a module that change nothing (each test starting an app
    over a fresh database of its own would cost more than all of them take)."""
    seeded = clones.take()
    try:
        with serving(seeded.url, snapshot__poll_interval_s="3600") as client:
            yield Reader(client, seeded.url)
    finally:
        clones.done(seeded)
