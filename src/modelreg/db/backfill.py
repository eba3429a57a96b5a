"""Fill `meta` from the legacy columns: keyset batches, each its own short transaction.

Idempotent and resumable: a batch only touches rows whose `meta` is still NULL (or whose
is_legacy has not yet caught up with is_deprecated), so a run that was interrupted simply
starts again and skips what is done. Batch sizes adapt to a time budget (`BatchSizer`), since
a writer touching a row of the current batch waits for the whole batch. Used by revision
0003_backfill and `bench/migrate.py`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

# One statement per batch, so in autocommit mode every batch is its own transaction.
BATCH_SQL = text(
    """
    WITH batch AS (
        SELECT id FROM models WHERE id > :after ORDER BY id LIMIT :size
    ), updated AS (
        UPDATE models m
           SET meta = coalesce(m.meta, modelreg_backfill_meta(m)),
               is_legacy = m.is_deprecated
          FROM batch
         WHERE m.id = batch.id
           AND (m.meta IS NULL OR m.is_legacy IS DISTINCT FROM m.is_deprecated)
        RETURNING m.id
    )
    SELECT (SELECT max(id) FROM batch) AS last_id,
           (SELECT count(*) FROM batch) AS scanned,
           (SELECT count(*) FROM updated) AS updated
    """
)

# The same work as one statement, for offline (`--sql`) scripts.
OFFLINE_SQL = (
    "UPDATE models m SET meta = coalesce(m.meta, modelreg_backfill_meta(m)),"
    " is_legacy = m.is_deprecated"
    " WHERE m.meta IS NULL OR m.is_legacy IS DISTINCT FROM m.is_deprecated"
)

Progress = Callable[[int, int], None]
"""Called after every batch with (rows scanned so far, rows to scan in all)."""

Clock = Callable[[], float]
"""Seconds from an arbitrary origin (`time.perf_counter` unless a test injects one)."""


@dataclass
class BatchSizer:
    """The next batch's size from how long the last one took, as GitLab's batched background
    migrations size theirs.

    The aim is a batch of `TARGET_SHARE` of the budget, which leaves room for a batch that
    runs slower than its predecessor (a busy machine, a checkpoint) to stay within the budget.
    A batch that took longer than the aim shrinks the next in proportion, at once; a quicker one
    lets the next grow towards the aim by at least one row and at most `MAX_GROWTH`, never
    beyond `max_size`. Growing by a row at least matters for small batches, whose time is
    mostly the statement's and the commit's fixed cost rather than their rows'.
    """

    TARGET_SHARE = 0.5
    MAX_GROWTH = 1.2

    max_size: int
    budget_s: float
    min_size: int = 1

    def next_size(self, size: int, seconds: float) -> int:
        aim = self.budget_s * self.TARGET_SHARE
        if seconds > aim:
            wanted = math.floor(size * aim / seconds)
        else:
            growth = self.MAX_GROWTH if seconds <= 0 else min(self.MAX_GROWTH, aim / seconds)
            wanted = max(size + 1, math.floor(size * growth))
        return max(self.min_size, min(self.max_size, wanted))


@dataclass
class BackfillResult:
    scanned: int = 0
    updated: int = 0
    batch_seconds: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)


def pending_rows(conn: Connection) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM models"
                " WHERE meta IS NULL OR is_legacy IS DISTINCT FROM is_deprecated"
            )
        ).scalar_one()
    )


def run(
    conn: Connection,
    *,
    batch_size: int,
    budget_ms: float = 100.0,
    progress: Progress | None = None,
    lock_timeout_ms: int = 2000,
    clock: Clock = time.perf_counter,
) -> BackfillResult:
    """Backfill every row; `conn` must be in autocommit mode (each batch commits on its own).

    Batches start at `batch_size` rows, which is also the largest they grow to, and adapt so
    that each takes about half of `budget_ms` (see `BatchSizer`).
    """
    total = int(conn.execute(text("SELECT count(*) FROM models")).scalar_one())
    conn.execute(text(f"SET lock_timeout = '{lock_timeout_ms}ms'"))
    sizer = BatchSizer(max_size=batch_size, budget_s=budget_ms / 1000)
    result = BackfillResult()
    after = ""
    size = batch_size
    while True:
        started = clock()
        row = conn.execute(BATCH_SQL, {"after": after, "size": size}).one()
        seconds = clock() - started
        result.batch_seconds.append(seconds)
        result.batch_sizes.append(size)
        if row.last_id is None:
            break
        after = row.last_id
        result.updated += int(row.updated)
        result.scanned += int(row.scanned)
        if progress is not None:
            # Rows inserted meanwhile can take the count past the one taken at the start.
            progress(result.scanned, max(total, result.scanned))
        size = sizer.next_size(size, seconds)
    return result
