"""Fixtures for the snapshot tests: a fresh seeded catalog (with an admin token) per test, and one
instance per module for the tests that only read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.catalog.seed import seed_catalog
from tests.pg import PgServer
from tests.snapshot.helpers import create_token, instance


@dataclass(frozen=True)
class Seeded:
    """A database at head with the shipped catalog, and an admin token valid in it."""

    url: URL
    token: str


# One seeded template per server, cloned for every test.
_templates: dict[int, tuple[str, str]] = {}


def clone_seeded(pg: PgServer) -> Seeded:
    if id(pg) not in _templates:
        url = pg.database_at("head")
        seed_catalog(url)
        token = create_token(url)
        assert url.database is not None
        _templates[id(pg)] = (url.database, token)
    template, token = _templates[id(pg)]
    return Seeded(url=pg.create_database(template=template), token=token)


@pytest.fixture
def seeded(pg: PgServer) -> Seeded:
    return clone_seeded(pg)


@pytest.fixture
def serve_seeded(seeded: Seeded, use_database: Callable[[URL], None]) -> Seeded:
    """The seeded catalog, with modelreg's settings pointed at it."""
    use_database(seeded.url)
    return seeded


@dataclass(frozen=True)
class Reader:
    client: TestClient
    url: URL


@pytest.fixture(scope="module")
def reader(pg: PgServer) -> Iterator[Reader]:
    """One instance for the tests of a module that change nothing (each test starting an app
    over a fresh database of its own would cost more than all of them take)."""
    seeded = clone_seeded(pg)
    with instance(
        database_url=seeded.url.render_as_string(hide_password=False),
        snapshot__poll_interval_s="3600",
    ) as client:
        yield Reader(client, seeded.url)
