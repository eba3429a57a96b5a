"""Fixtures for the audit tests: a fresh seeded catalog behind the app, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import URL

from tests.lifecycle.helpers import Catalog, Clones, clones_for, close_clones, open_catalog
from tests.pg import PgServer


@pytest.fixture(scope="session")
def clones(pg: PgServer) -> Iterator[Clones]:
    yield clones_for(pg)
    close_clones(pg)


@pytest.fixture
def catalog(clones: Clones, use_database: Callable[[URL], None]) -> Iterator[Catalog]:
    yield from open_catalog(clones, use_database)
