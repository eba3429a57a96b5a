"""gin fastupdate off: writes to `meta` go straight into the GIN indexes, never into a pending list.

Revision ID: 0013_gin_fastupdate
Revises: 0012_price_schedule
Create Date: 2026-12-07 09:00

With `fastupdate` on (PostgreSQL's default) a GIN index queues new entries in a pending list, and
the write that finds the list longer than `gin_pending_list_limit` (4 MB) moves the whole list
into the index before it returns. On `idx_models_meta_gin`, which indexes every key and value of
`meta`, that was a write of about a second every few thousand writes (seen during the 1,000,000-row
migration benchmark, with the writer's other writes at 2 ms). Off, each write updates the index
itself: a little more work per write, and no stall. `0004_indexes` builds both GIN indexes this
way now; this revision sets it on indexes built before, then moves what their pending lists still
hold into the index.

`ALTER INDEX ... SET (fastupdate)` takes an ACCESS EXCLUSIVE lock on the index (writers of
`models` wait for it) for a catalog update only, under the migration's lock_timeout. The pending
list is moved after that commit, holding no lock a writer waits for.

Downgrade leaves the setting as it is: it changes no query's result, and `0004_indexes` builds the
indexes with it off.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout
from modelreg.db.indexes import GIN_STORAGE, INDEXES

revision = "0013_gin_fastupdate"
down_revision = "0012_price_schedule"
branch_labels = None
depends_on = None

GIN_INDEXES = tuple(index.name for index in INDEXES if index.gin)


def upgrade() -> None:
    set_local_lock_timeout()
    for name in GIN_INDEXES:
        op.execute(f"ALTER INDEX IF EXISTS {name} SET ({GIN_STORAGE})")
    with op.get_context().autocommit_block():
        found = ", ".join(f"(to_regclass('{name}'))" for name in GIN_INDEXES)
        op.execute(
            f"SELECT gin_clean_pending_list(i) FROM (VALUES {found}) AS gin(i) WHERE i IS NOT NULL"
        )


def downgrade() -> None:
    # Nothing to undo (see above); the timeout is every revision's rule, in both directions.
    set_local_lock_timeout()
