"""Fixtures of the CLI tests: a seeded database the CLI points at, and a runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.catalog.seed import seed_catalog


@pytest.fixture
def seeded_url(head_url: URL, use_database: Callable[[URL], None]) -> URL:
    """A seeded database at head, which the CLI (and its settings) now point at."""
    use_database(head_url)
    seed_catalog(head_url)
    return head_url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
