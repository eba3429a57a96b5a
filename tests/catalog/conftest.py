"""Fixtures for the catalog tests."""

from __future__ import annotations

import pytest

from modelreg.catalog.seed import SeedModel, load_seed_models


@pytest.fixture(scope="session")
def shipped() -> list[SeedModel]:
    """The shipped catalog, validated, in file order."""
    return load_seed_models()
