"""Fill `meta` from the legacy columns: keyset batches, each its own short transaction.

Idempotent and resumable: a batch only touches rows whose `meta` is still NULL (or whose
is_legacy has not yet caught up with is_deprecated), so a run that was interrupted simply
starts again and skips what is done. Used by revision 0003_backfill and `bench/migrate.py`.
"""

from __future__ import annotations

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
    SELECT (SELECT max(id) FROM batch) AS last_id, (SELECT count(*) FROM updated) AS updated
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


@dataclass
class BackfillResult:
    scanned: int = 0
    updated: int = 0
    batch_seconds: list[float] = field(default_factory=list)


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
    progress: Progress | None = None,
    lock_timeout_ms: int = 2000,
) -> BackfillResult:
    """Backfill every row; `conn` must be in autocommit mode (each batch commits on its own)."""
    total = int(conn.execute(text("SELECT count(*) FROM models")).scalar_one())
    conn.execute(text(f"SET lock_timeout = '{lock_timeout_ms}ms'"))
    result = BackfillResult()
    after = ""
    while True:
        started = time.perf_counter()
        row = conn.execute(BATCH_SQL, {"after": after, "size": batch_size}).one()
        result.batch_seconds.append(time.perf_counter() - started)
        if row.last_id is None:
            break
        after = row.last_id
        result.updated += int(row.updated)
        result.scanned += batch_size
        if progress is not None:
            progress(min(result.scanned, total), total)
    result.scanned = min(result.scanned, total)
    return result
