"""indexes: the catalog's query indexes, built CONCURRENTLY, then ANALYZE.

Revision ID: 0004_indexes
Revises: 0003_backfill
Create Date: 2026-11-28 06:30

Each build runs outside a transaction so writers are never blocked; an INVALID leftover of an
interrupted build is dropped and rebuilt, a valid one is kept, so re-running is safe.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import (
    MAINTENANCE_LOCK_TIMEOUT_MS,
    create_index_concurrently,
    drop_index_concurrently,
    set_local_lock_timeout,
)
from modelreg.db.indexes import INDEXES

revision = "0004_indexes"
down_revision = "0003_backfill"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    for index in INDEXES:
        create_index_concurrently(index.name, index.definition)
    set_local_lock_timeout(MAINTENANCE_LOCK_TIMEOUT_MS)
    op.execute("ANALYZE models")


def downgrade() -> None:
    set_local_lock_timeout()
    for index in reversed(INDEXES):
        drop_index_concurrently(index.name)
