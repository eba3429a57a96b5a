"""Fixtures of the public API tests: seeded databases and the app serving them.

`client` is one app over one seeded database per module, for the tests that only read. A test
that changes the database or the settings (tier margins) takes a fresh app with `serve`: prepare
`seeded_url` and the settings, then call `serve()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.catalog.seed import SeedModel, load_seed_models, seed_catalog
from modelreg.config import get_settings
from tests.pg import PgServer

FREE_MARGIN = Decimal("0.25")
PRO_MARGIN = Decimal("0.25")


@pytest.fixture(scope="session")
def shipped() -> list[SeedModel]:
    """The shipped catalog, in file order."""
    return load_seed_models()


@pytest.fixture(scope="module")
def client(pg: PgServer) -> Iterator[TestClient]:
    """The app over a seeded database shared by the module: only read through it."""
    url = pg.database_at("head")
    seed_catalog(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELREG_DATABASE_URL", url.render_as_string(hide_password=False))
        get_settings.cache_clear()
        with TestClient(create_app()) as test_client:
            yield test_client
    get_settings.cache_clear()


@pytest.fixture
def seeded_url(head_url: URL) -> URL:
    """A fresh seeded database of the test's own."""
    seed_catalog(head_url)
    return head_url


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
