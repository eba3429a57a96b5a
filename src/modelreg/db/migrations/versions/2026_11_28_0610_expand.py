"""expand: add meta, is_legacy, is_archived; keep old and new writers in sync with a trigger.

Revision ID: 0002_expand
Revises: 0001_baseline
Create Date: 2026-11-28 06:10

After this revision an application writing the old columns and one writing `meta` can run side
by side: the trigger `models_sync_legacy_columns` maps every write onto the other shape (see
`modelreg.db.legacy_sync`). `meta` stays nullable, guarded by a NOT VALID check that already
applies to every new write; 0005_validate proves it for old rows.

An adopted table (`modelreg db adopt`) gets what modelreg relies on: `timestamptz` timestamps
and `DEFAULT now()` on both; the downgrade gives back what was adopted.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.db import legacy_shape, legacy_sync
from modelreg.db.ddl import is_offline, set_local_lock_timeout
from modelreg.db.exceptions import DowngradeWouldLoseData

revision = "0002_expand"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

# Descriptive columns that were NOT NULL in the baseline; a writer of `meta` does not set them.
BASELINE_NOT_NULL = (
    "display_name",
    "context_length",
    "input_cost_per_million_tokens",
    "output_cost_per_million_tokens",
    "credits_per_1k_tokens",
    "required_tier",
    "tier_restriction_mode",
    "allowed_tiers",
)


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        "ALTER TABLE models"
        " ADD COLUMN IF NOT EXISTS is_legacy boolean NOT NULL DEFAULT false,"
        " ADD COLUMN IF NOT EXISTS is_archived boolean NOT NULL DEFAULT false,"
        " ADD COLUMN IF NOT EXISTS meta jsonb"
    )
    op.execute(
        "ALTER TABLE models ADD CONSTRAINT models_meta_not_null CHECK (meta IS NOT NULL) NOT VALID"
    )
    # The point of the expand: a writer of meta alone must be able to insert.
    op.execute(
        "-- squawk-ignore ban-drop-not-null\n"
        "ALTER TABLE models "
        + ", ".join(f"ALTER COLUMN {col} DROP NOT NULL" for col in BASELINE_NOT_NULL)
    )
    op.execute(legacy_sync.CREATE_FUNCTIONS)
    op.execute(legacy_sync.CREATE_TRIGGER)
    # On a table modelreg created this changes nothing. An adopted one may have timestamps
    # without time zone (ORMs store UTC in them: read as UTC, which under a UTC session needs no
    # table rewrite) and no default on updated_at, where modelreg's inserts rely on now().
    op.execute("SET LOCAL TimeZone = 'UTC'")
    op.execute(
        "-- squawk-ignore changing-column-type\n"
        "ALTER TABLE models ALTER COLUMN created_at TYPE timestamptz,"
        " ALTER COLUMN updated_at TYPE timestamptz,"
        " ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN updated_at SET DEFAULT now()"
    )


def downgrade() -> None:
    set_local_lock_timeout()
    # An adopted table goes back to what was adopted (offline scripts: the baseline's shape).
    adopted = None if is_offline() else legacy_shape.recorded(op.get_bind(), legacy_shape.ADOPTED)
    not_null = [
        col
        for col in BASELINE_NOT_NULL
        if adopted is None or col not in adopted.columns or adopted.columns[col].not_null
    ]
    if not is_offline():
        _refuse_lossy_downgrade(not_null)
    op.execute(legacy_sync.DROP_TRIGGER)
    op.execute(legacy_sync.DROP_FUNCTIONS)
    # NOT NULL the cheap way: a validated CHECK lets SET NOT NULL skip its own table scan.
    for col in not_null:
        op.execute(
            f"ALTER TABLE models ADD CONSTRAINT models_{col}_not_null"
            f" CHECK ({col} IS NOT NULL) NOT VALID"
        )
        op.execute(f"ALTER TABLE models VALIDATE CONSTRAINT models_{col}_not_null")
        op.execute(f"ALTER TABLE models ALTER COLUMN {col} SET NOT NULL")
        op.execute(f"ALTER TABLE models DROP CONSTRAINT models_{col}_not_null")
    op.execute("ALTER TABLE models DROP CONSTRAINT IF EXISTS models_meta_not_null")
    op.execute(
        "ALTER TABLE models DROP COLUMN meta, DROP COLUMN is_archived, DROP COLUMN is_legacy"
    )
    if adopted is not None:
        _restore_adopted(adopted)


def _restore_adopted(adopted: legacy_shape.Shape) -> None:
    """Types and defaults as adopted (the timestamps and their defaults, which the upgrade set)."""
    current = legacy_shape.read(op.get_bind())
    clauses = [
        clause
        for name, wanted in adopted.columns.items()
        if name in current.columns
        for clause in legacy_shape.restore_column_sql(current.columns[name], wanted)
    ]
    if clauses:
        op.execute("SET LOCAL TimeZone = 'UTC'")
        op.execute("ALTER TABLE models " + ", ".join(clauses))


def _refuse_lossy_downgrade(not_null: list[str]) -> None:
    """Stop before dropping `meta` if any row holds what only the new schema can carry."""
    legacy_keys = "ARRAY[" + ", ".join(f"'{k}'" for k in legacy_sync.LEGACY_META_KEYS) + "]"
    null_columns = " OR ".join(f"{col} IS NULL" for col in not_null) or "false"
    rows = op.get_bind().execute(
        text(
            f"""
            SELECT id, problem FROM (
                SELECT id, concat_ws('; ',
                    CASE WHEN is_archived THEN 'is archived' END,
                    CASE WHEN {null_columns}
                         THEN 'a column the baseline requires is NULL' END,
                    (SELECT 'meta keys ' || string_agg(e.key, ', ' ORDER BY e.key)
                            || ' have no old column'
                       FROM jsonb_each(coalesce(meta, '{{}}'::jsonb) - {legacy_keys}::text[]) e
                      WHERE e.value IS DISTINCT FROM
                            modelreg_new_meta_defaults(is_deprecated) -> e.key)
                ) AS problem
                FROM models
            ) checked
            WHERE problem <> ''
            ORDER BY id
            """
        )
    )
    problems = [(str(r.id), str(r.problem)) for r in rows]
    if problems:
        raise DowngradeWouldLoseData(revision, problems)
