"""Fixtures of the import tests: a seeded database the CLI points at, and a runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from tests.fixtures.databases import PgServer


@pytest.fixture
def seeded_url(pg: PgServer, use_database: Callable[[URL], None]) -> URL:
    """A seeded database at head, which the CLI (and its settings) now point at."""
    url = pg.seeded_url()
    use_database(url)
    return url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
