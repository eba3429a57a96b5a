"""Helpers the migrations share: lock timeouts and concurrent index builds.

Every DDL transaction sets a `lock_timeout`, so a migration waiting behind a long query gives up
(and can be retried) instead of queueing every reader and writer of the table behind it.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.config import get_settings

# VACUUM, ANALYZE and CREATE INDEX CONCURRENTLY take SHARE UPDATE EXCLUSIVE, which no reader or
# writer waits for. What they may wait for is an autovacuum of the table, which holds that lock
# too: past deadlock_timeout PostgreSQL cancels the autovacuum, so these wait longer than that
# rather than time out after `lock_timeout_ms` and have the revision retried.
MAINTENANCE_LOCK_TIMEOUT_MS = 60_000


def lock_timeout_ms() -> int:
    return get_settings().migration.lock_timeout_ms


def set_local_lock_timeout(timeout_ms: int | None = None) -> None:
    """Bound lock waits for the rest of this migration's transaction."""
    op.execute(f"SET LOCAL lock_timeout = '{timeout_ms or lock_timeout_ms()}ms'")


def vacuum_analyze(table: str) -> None:
    """`VACUUM (ANALYZE)` outside a transaction, without truncating the table's empty tail
    (which would take an ACCESS EXCLUSIVE lock)."""
    with op.get_context().autocommit_block():
        op.execute(f"SET lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT_MS}ms'")
        op.execute(f"VACUUM (ANALYZE, TRUNCATE false) {table}")


def is_offline() -> bool:
    return op.get_context().as_sql


def create_index_concurrently(name: str, definition: str) -> None:
    """`CREATE INDEX CONCURRENTLY`, first dropping an INVALID leftover of an interrupted build.

    `definition` is what follows ``ON``, e.g. ``models USING gin (meta)``.
    """
    with op.get_context().autocommit_block():
        op.execute(f"SET lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT_MS}ms'")
        if is_offline():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        else:
            state = (
                op.get_bind()
                .execute(
                    text(
                        "SELECT i.indisvalid FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE c.relname = :name AND pg_table_is_visible(c.oid)"
                    ),
                    {"name": name},
                )
                .scalar()
            )
            if state is True:
                return
            if state is False:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop_index_concurrently(name: str) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"SET lock_timeout = '{lock_timeout_ms()}ms'")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
