"""0003_backfill: faithful mapping, batched to a time budget, idempotent, resumable after an
interruption."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from modelreg.db import backfill, jsonb, migrate
from modelreg.db.legacy_sync import MIGRATED_DEPRECATION_NOTICE
from tests.db.legacy import LegacyRow, insert_rows
from tests.db.test_sync_trigger import OLD

ROWS = [replace(OLD, id=f"m-{i:03d}", is_deprecated=i % 7 == 0) for i in range(50)]


class FakeClock:
    """A clock under the test's control: each batch takes `durations[i]` seconds (the last one
    repeats), whatever the database really took."""

    def __init__(self, *durations: float) -> None:
        self.durations = list(durations)
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        if self.calls % 2 == 1:  # the end of a batch
            batch = self.calls // 2
            self.now += self.durations[min(batch, len(self.durations) - 1)]
        self.calls += 1
        return self.now


def _backfill(engine: Engine, **kwargs: Any) -> backfill.BackfillResult:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return backfill.run(conn, **kwargs)


def _expanded_with(
    rows: list[LegacyRow],
    database_at: Callable[[str], URL],
    engine_for: Callable[[URL], Engine],
) -> tuple[URL, Engine]:
    url = database_at("0001_baseline")
    engine = engine_for(url)
    with engine.begin() as conn:
        insert_rows(conn, rows)
    migrate.upgrade(url, "0002_expand")
    return url, engine


def _state(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, is_legacy, is_deprecated, meta::text FROM models ORDER BY id")
        )
        return [(r[0], r[1], r[2], jsonb.loads(r[3]) if r[3] else None) for r in rows]


def test_maps_every_column_faithfully(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    row = replace(
        OLD,
        description=None,
        version=None,
        capabilities=[],
        max_output_tokens=None,
        input_cost_per_million_tokens=1,
        output_cost_per_million_tokens=2147483647,
        is_deprecated=True,
        allowed_tiers=["pro", "free"],
    )
    url, engine = _expanded_with([row], database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    [(_, is_legacy, _, meta)] = _state(engine)
    assert is_legacy is True
    assert meta == {
        "displayName": "Old One",
        "description": "",
        "version": "",
        "capabilities": [],
        "contextLength": 128000,
        "inputCostUsdPerMillionTokens": Decimal("0.01"),
        "outputCostUsdPerMillionTokens": Decimal("21474836.47"),
        "creditsPer1kTokens": 7,
        "requiredTier": "pro",
        "tierRestrictionMode": "minimum",
        "allowedTiers": ["pro", "free"],
        "legacyReplacementModelId": None,
        "deprecationNotice": MIGRATED_DEPRECATION_NOTICE,
        "sunsetDate": None,
        "providerMetadata": {},
        "internalNotes": "",
        "complianceTags": [],
    }


def test_old_writer_update_of_a_row_not_yet_backfilled_fills_its_meta(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with([OLD], database_at, engine_for)
    with engine.begin() as conn:
        conn.execute(text("UPDATE models SET display_name = 'Touched' WHERE id = 'old-1'"))
    [(_, _, _, meta)] = _state(engine)
    assert meta is not None
    assert meta["displayName"] == "Touched"


def test_interrupted_backfill_resumes_to_the_same_result(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url_a, engine_a = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url_a, "0003_backfill")
    uninterrupted = _state(engine_a)

    url_b, engine_b = _expanded_with(ROWS, database_at, engine_for)

    class Crash(Exception):
        pass

    def crash_after_two_batches(done: int, total: int) -> None:
        if done >= 20:
            raise Crash

    with pytest.raises(Crash):
        _backfill(engine_b, batch_size=10, progress=crash_after_two_batches, clock=FakeClock(0))
    partial = _state(engine_b)
    assert sum(1 for *_, meta in partial if meta is not None) == 20
    assert migrate.current_revision(url_b) == "0002_expand"

    migrate.upgrade(url_b, "0003_backfill")
    assert _state(engine_b) == uninterrupted


def test_running_again_changes_nothing(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url, engine = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    before = _state(engine)
    result = _backfill(engine, batch_size=7)
    assert result.updated == 0
    assert result.scanned == len(ROWS)
    assert _state(engine) == before


def test_downgrade_clears_derived_meta_but_keeps_what_a_new_writer_wrote(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url, engine = _expanded_with(ROWS[:3], database_at, engine_for)
    migrate.upgrade(url, "0003_backfill")
    with engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE models SET meta = meta || \'{"internalNotes": "keep me"}\''
                " WHERE id = 'm-001'"
            )
        )
    migrate.downgrade(url, "0002_expand")
    metas = {model_id: meta for model_id, _, _, meta in _state(engine)}
    assert metas["m-000"] is None
    assert metas["m-002"] is None
    assert metas["m-001"] is not None
    assert metas["m-001"]["internalNotes"] == "keep me"


def test_partial_meta_written_before_the_backfill_keeps_the_other_values(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with([OLD], database_at, engine_for)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE models SET meta = coalesce(meta, '{}') || '{\"displayName\": \"New\"}'"
                " WHERE id = 'old-1'"
            )
        )
        row = conn.execute(text("SELECT * FROM models WHERE id = 'old-1'")).one()
    assert row.display_name == "New"
    assert row.context_length == OLD.context_length
    assert row.input_cost_per_million_tokens == OLD.input_cost_per_million_tokens
    [(_, _, _, meta)] = _state(engine)
    assert meta["displayName"] == "New"
    assert meta["contextLength"] == OLD.context_length


def test_batches_shrink_while_they_take_longer_than_the_budget(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url_a, engine_a = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url_a, "0003_backfill")
    _, engine_b = _expanded_with(ROWS, database_at, engine_for)

    # Every batch takes 250 ms against a budget of 100 ms.
    result = _backfill(engine_b, batch_size=20, budget_ms=100, clock=FakeClock(0.25))

    sizes = result.batch_sizes
    assert sizes[:4] == [20, 4, 1, 1]
    assert result.scanned == len(ROWS)
    assert result.updated == len(ROWS)
    assert _state(engine_b) == _state(engine_a)


def test_batches_grow_back_to_the_configured_size_once_they_are_quick(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with(ROWS, database_at, engine_for)

    # Two slow batches, then every batch takes 10 ms against a budget of 100 ms.
    result = _backfill(engine, batch_size=10, budget_ms=100, clock=FakeClock(0.2, 0.2, 0.01))

    sizes = result.batch_sizes
    assert sizes[:3] == [10, 2, 1]
    growth = sizes[2:]
    assert growth == sorted(growth)
    assert max(sizes) == 10  # never beyond the configured size
    assert all(b <= math.ceil(a * 1.2) for a, b in itertools.pairwise(growth))  # a fifth at most
    assert result.scanned == len(ROWS)


def test_batches_keep_the_configured_size_within_the_budget(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    _, engine = _expanded_with(ROWS, database_at, engine_for)

    result = _backfill(engine, batch_size=10, budget_ms=100, clock=FakeClock(0.04))

    assert result.batch_sizes == [10] * 6  # five batches of rows, and the empty one that ends
    assert result.updated == len(ROWS)


def test_interrupted_adaptive_backfill_resumes_with_nothing_missed(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url_a, engine_a = _expanded_with(ROWS, database_at, engine_for)
    migrate.upgrade(url_a, "0003_backfill")
    _, engine_b = _expanded_with(ROWS, database_at, engine_for)

    class Crash(Exception):
        pass

    def crash_after_30(done: int, total: int) -> None:
        if done >= 30:
            raise Crash

    with pytest.raises(Crash):
        _backfill(engine_b, batch_size=16, progress=crash_after_30, clock=FakeClock(0.3, 0.01))
    assert 0 < sum(1 for *_, meta in _state(engine_b) if meta is not None) < len(ROWS)

    resumed = _backfill(engine_b, batch_size=16, clock=FakeClock(0.3))
    assert 0 < resumed.updated < len(ROWS)
    assert resumed.scanned == len(ROWS)
    assert _state(engine_b) == _state(engine_a)


@pytest.mark.parametrize(
    ("size", "seconds", "expected"),
    [
        (1000, 0.2, 250),  # twice the budget: down to what fits half of it
        (1000, 0.05, 1000),  # half the budget: the aim, and the maximum
        (500, 0.01, 600),  # far quicker: grows by a fifth at most
        (500, 0.0, 600),  # too quick to measure: grows by a fifth
        (500, 0.045, 555),  # a little quicker than the aim: grows towards it
        (3, 0.049, 4),  # a small batch under the aim grows by a row at least
        (3, 10.0, 1),  # never below one row
    ],
)
def test_next_batch_size(size: int, seconds: float, expected: int) -> None:
    sizer = backfill.BatchSizer(max_size=1000, budget_s=0.1)
    assert sizer.next_size(size, seconds) == expected


def _lock_on_models_waited_for(conn: Connection, seconds: float) -> bool:
    conn.commit()  # a fresh snapshot of pg_locks
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_locks WHERE relation = 'models'::regclass AND NOT granted"
            " AND clock_timestamp() - waitstart > make_interval(secs => :seconds)"
        ),
        {"seconds": seconds},
    )
    return found.first() is not None


def test_backfill_waits_behind_an_autovacuum_of_models_instead_of_timing_out(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    """The closing VACUUM needs the SHARE UPDATE EXCLUSIVE lock an autovacuum holds (here, a
    session holding it): it waits past the migration's lock_timeout (250 ms) instead of giving
    up and having the whole revision retried."""
    url, engine = _expanded_with(ROWS, database_at, engine_for)
    retries: list[int] = []
    failures: list[BaseException] = []

    def upgrade() -> None:
        try:
            migrate.upgrade(url, "0003_backfill", on_retry=lambda n, _: retries.append(n))
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=upgrade)
    with engine.connect() as holder, engine.connect() as watcher:
        holder.execute(text("LOCK TABLE models IN SHARE UPDATE EXCLUSIVE MODE"))
        worker.start()
        deadline = time.monotonic() + 60
        while not _lock_on_models_waited_for(watcher, 1.0) and time.monotonic() < deadline:
            worker.join(timeout=0.05)
        holder.rollback()
    worker.join(timeout=60)

    assert not failures
    assert retries == []
    assert migrate.current_revision(url) == "0003_backfill"
    assert all(meta is not None for *_, meta in _state(engine))
