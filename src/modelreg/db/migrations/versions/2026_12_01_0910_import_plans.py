"""import plans: the plans made through the admin API, kept until applied.

Revision ID: 0010_import_plans
Revises: 0008_tier_statistics
Create Date: 2026-12-01 09:00

`import_plans`: one row per plan (`POST /admin/v1/imports`) with the catalog revision it was made
at, the plan document, and when and by whom it was applied. A new table: no lock on any table
in use. The downgrade drops it: plans are disposable (a new one is made from the source at any
time), and what an applied plan changed is in the audit log.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = "0010_import_plans"
down_revision = "0009_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS import_plans (
            id text PRIMARY KEY,
            source text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text NOT NULL,
            catalog_revision bigint NOT NULL,
            plan jsonb NOT NULL,
            applied_at timestamptz,
            applied_by text
        )
        """
    )


def downgrade() -> None:
    set_local_lock_timeout()
    op.execute("DROP TABLE IF EXISTS import_plans")
