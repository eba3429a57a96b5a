"""validate: prove every row has meta, then make the column NOT NULL.

Revision ID: 0005_validate
Revises: 0004_indexes
Create Date: 2026-11-28 06:40

VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE (reads and writes go on); SET NOT NULL
then finds the validated check and skips its own scan, so the ACCESS EXCLUSIVE lock it needs
is held for milliseconds.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = "0005_validate"
down_revision = "0004_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute("ALTER TABLE models VALIDATE CONSTRAINT models_meta_not_null")
    op.execute("ALTER TABLE models ALTER COLUMN meta SET NOT NULL")
    # The check's guarantee now lives in the NOT NULL itself.
    op.execute(
        "-- squawk-ignore ban-drop-constraint\n"
        "ALTER TABLE models DROP CONSTRAINT models_meta_not_null"
    )


def downgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        "ALTER TABLE models ADD CONSTRAINT models_meta_not_null CHECK (meta IS NOT NULL) NOT VALID"
    )
    op.execute("ALTER TABLE models ALTER COLUMN meta DROP NOT NULL")
