"""baseline: the wide `models` table the catalog started as.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-28 06:00

Reproduces the original schema column for column (types, nullability, defaults), so databases
created before modelreg existed can be adopted (`modelreg db adopt`) and taken forward.
"""

from __future__ import annotations

from alembic import op

from modelreg.db import baseline, legacy_shape
from modelreg.db.ddl import set_local_lock_timeout

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    for statement in baseline.CREATE_TYPES:
        op.execute(statement)
    op.execute(baseline.CREATE_TABLE)


def downgrade() -> None:
    set_local_lock_timeout()
    for statement in baseline.DROP:
        op.execute(statement)
    # What `db adopt` recorded about the table is moot once the table is gone.
    op.execute(legacy_shape.DROP_TABLE)
