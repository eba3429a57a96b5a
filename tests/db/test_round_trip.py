"""Nothing is lost: every legacy column of every row survives every upgrade and downgrade."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from modelreg.db import migrate
from modelreg.db.engine import sync_engine
from tests.db.legacy import LegacyRow, insert_rows, legacy_rows, row_hashes
from tests.fixtures.databases import PgServer

KEEPS_OLD_COLUMNS = ("0002_expand", "0003_backfill", "0004_indexes", "0005_validate")

examples = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _hashes(url: object, *, normalised: bool = False) -> dict[str, str]:
    engine = sync_engine(url)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            return row_hashes(conn, normalised=normalised)
    finally:
        engine.dispose()


def _baseline_with(pg: PgServer, rows: list[LegacyRow]) -> object:
    url = pg.database_at("0001_baseline")
    engine = sync_engine(url)
    with engine.begin() as conn:
        insert_rows(conn, rows)
    engine.dispose()
    return url


@pytest.mark.slow
@examples
@given(rows=legacy_rows())
def test_every_revision_that_keeps_old_columns_leaves_them_identical(
    pg: PgServer, rows: list[LegacyRow]
) -> None:
    url = _baseline_with(pg, rows)
    original = _hashes(url)
    assert len(original) == len(rows)
    for revision in KEEPS_OLD_COLUMNS:
        migrate.upgrade(url, revision)  # type: ignore[arg-type]
        assert _hashes(url) == original, f"after upgrade to {revision}"
    for revision in reversed(("0001_baseline", *KEEPS_OLD_COLUMNS[:-1])):
        migrate.downgrade(url, revision)  # type: ignore[arg-type]
        assert _hashes(url) == original, f"after downgrade to {revision}"
    pg.drop_database(url.database)  # type: ignore[attr-defined]


@pytest.mark.slow
@examples
@given(rows=legacy_rows())
def test_contract_and_back_loses_nothing_but_the_documented_normalisations(
    pg: PgServer, rows: list[LegacyRow]
) -> None:
    url = _baseline_with(pg, rows)
    expected = _hashes(url, normalised=True)
    migrate.upgrade(url, "head")  # type: ignore[arg-type]
    for revision in reversed(("0001_baseline", *KEEPS_OLD_COLUMNS)):
        migrate.downgrade(url, revision)  # type: ignore[arg-type]
        assert _hashes(url) == expected, f"after downgrade to {revision}"
    pg.drop_database(url.database)  # type: ignore[attr-defined]
