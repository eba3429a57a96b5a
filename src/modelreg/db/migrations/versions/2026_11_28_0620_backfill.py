"""backfill: fill meta from the old columns; is_deprecated rows become is_legacy.

Revision ID: 0003_backfill
Revises: 0002_expand
Create Date: 2026-11-28 06:20

Runs in keyset batches outside the migration transaction (see `modelreg.db.backfill`), sized
to a time budget, so no lock is held for longer than one batch and an interrupted run resumes
where it stopped.
"""

from __future__ import annotations

from alembic import context, op

from modelreg.config import get_settings
from modelreg.db import backfill
from modelreg.db.ddl import is_offline, lock_timeout_ms, set_local_lock_timeout, vacuum_analyze

revision = "0003_backfill"
down_revision = "0002_expand"
branch_labels = None
depends_on = None

# Rows whose meta says nothing the old columns do not: clearing those loses nothing.
_DERIVED_ONLY = "meta = modelreg_backfill_meta(models)"


def upgrade() -> None:
    set_local_lock_timeout()
    if is_offline():
        op.execute(backfill.OFFLINE_SQL)
    else:
        progress = context.config.attributes.get("backfill_progress")
        settings = get_settings().migration
        with op.get_context().autocommit_block():
            backfill.run(
                op.get_bind(),
                batch_size=settings.backfill_batch_size,
                budget_ms=settings.backfill_batch_budget_ms,
                progress=progress,
                lock_timeout_ms=lock_timeout_ms(),
            )
    # Every row was just rewritten: vacuum now, so that an autovacuum triggered by it is not
    # running when the next revisions ask for their (brief) exclusive locks.
    vacuum_analyze("models")


def downgrade() -> None:
    """Return to the pre-backfill state without losing what a new writer put in meta.

    Meta that is exactly what the backfill derives from the old columns is cleared again; meta
    that carries more (written by a new writer) is kept, since only it holds that data. The NOT
    VALID guard is lifted for the clearing and put back unchanged. is_legacy stays equal to
    is_deprecated, which is what the trigger maintains at 0002 anyway.
    """
    set_local_lock_timeout()
    op.execute("ALTER TABLE models DROP CONSTRAINT models_meta_not_null")
    # Clearing meta is not a write of either shape; the sync trigger must not map it back.
    op.execute("ALTER TABLE models DISABLE TRIGGER models_sync_legacy_columns")
    op.execute(f"UPDATE models SET meta = NULL WHERE {_DERIVED_ONLY}")
    op.execute("ALTER TABLE models ENABLE TRIGGER models_sync_legacy_columns")
    op.execute(
        "ALTER TABLE models ADD CONSTRAINT models_meta_not_null CHECK (meta IS NOT NULL) NOT VALID"
    )
