"""Fixtures of the import tests: a seeded database the CLI points at (a clone of one seeded
once per session), and a runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.catalog.seed import seed_catalog
from tests.pg import PgServer


@pytest.fixture(scope="session")
def seeded_template(pg: PgServer) -> str:
    url = pg.database_at("head")
    seed_catalog(url)
    assert url.database is not None
    return url.database


@pytest.fixture
def seeded_url(pg: PgServer, seeded_template: str, use_database: Callable[[URL], None]) -> URL:
    """A seeded database at head, which the CLI (and its settings) now point at."""
    url = pg.create_database(template=seeded_template)
    use_database(url)
    return url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
