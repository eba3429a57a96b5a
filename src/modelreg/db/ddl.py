"""Helpers the migrations share: lock timeouts and concurrent index builds.

Every DDL transaction sets a `lock_timeout`, so a migration waiting behind a long query gives up
(and can be retried) instead of queueing every reader and writer of the table behind it.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.config import get_settings


def lock_timeout_ms() -> int:
    return get_settings().migration.lock_timeout_ms


def set_local_lock_timeout() -> None:
    """Bound lock waits for the rest of this migration's transaction."""
    op.execute(f"SET LOCAL lock_timeout = '{lock_timeout_ms()}ms'")


def is_offline() -> bool:
    return op.get_context().as_sql


def create_index_concurrently(name: str, definition: str) -> None:
    """`CREATE INDEX CONCURRENTLY`, first dropping an INVALID leftover of an interrupted build.

    `definition` is what follows ``ON``, e.g. ``models USING gin (meta)``.
    """
    with op.get_context().autocommit_block():
        op.execute(f"SET lock_timeout = '{lock_timeout_ms()}ms'")
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
