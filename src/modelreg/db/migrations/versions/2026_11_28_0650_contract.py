"""contract: drop the sync trigger, the mapping functions and the legacy columns.

Revision ID: 0006_contract
Revises: 0005_validate
Create Date: 2026-11-28 06:50

Run it only once no writer of the old columns is left. Before dropping them it records what it
drops (`modelreg.db.legacy_shape`): the columns' types and defaults, the enum types' labels, and
every index on those columns, modelreg's or not. The downgrade rebuilds exactly that and fills
the columns from meta; a value the old columns cannot hold (a sub-cent price, fractional credits,
a capability or tier outside the enums) stops it with the list of rows, rather than being
rounded or dropped.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.db import baseline, legacy_shape, legacy_sync
from modelreg.db.ddl import is_offline, set_local_lock_timeout
from modelreg.db.exceptions import DowngradeWouldLoseData

revision = "0006_contract"
down_revision = "0005_validate"
branch_labels = None
depends_on = None

# Column definitions as they stood after 0002_expand (descriptive columns nullable): what the
# downgrade adds when nothing was recorded (offline scripts, or contracted before recording).
LEGACY_COLUMN_DDL: tuple[tuple[str, str], ...] = (
    ("display_name", "varchar(255)"),
    ("description", "text"),
    ("capabilities", "model_capability[]"),
    ("context_length", "integer"),
    ("max_output_tokens", "integer"),
    ("input_cost_per_million_tokens", "integer"),
    ("output_cost_per_million_tokens", "integer"),
    ("credits_per_1k_tokens", "integer"),
    ("is_deprecated", "boolean NOT NULL DEFAULT false"),
    ("version", "varchar(50)"),
    ("required_tier", "subscription_tier DEFAULT 'free'"),
    ("tier_restriction_mode", "varchar(20) DEFAULT 'minimum'"),
    ("allowed_tiers", "subscription_tier[] DEFAULT '{}'"),
)


def upgrade() -> None:
    set_local_lock_timeout()
    for statement in legacy_shape.record_before_contract_sql(col for col, _ in LEGACY_COLUMN_DDL):
        op.execute(statement)
    op.execute(legacy_sync.DROP_TRIGGER)
    op.execute(legacy_sync.DROP_FUNCTIONS)
    op.execute(
        "-- squawk-ignore ban-drop-column\n"
        "ALTER TABLE models "
        + ", ".join(f"DROP COLUMN IF EXISTS {col}" for col, _ in LEGACY_COLUMN_DDL)
    )
    op.execute("-- squawk-ignore ban-drop-type\nDROP TYPE IF EXISTS model_capability")
    op.execute("-- squawk-ignore ban-drop-type\nDROP TYPE IF EXISTS subscription_tier")


def downgrade() -> None:
    set_local_lock_timeout()
    shape = None if is_offline() else legacy_shape.recorded(op.get_bind(), revision)
    if shape is None:
        for statement in baseline.CREATE_TYPES:
            op.execute(statement)
        op.execute(
            "ALTER TABLE models "
            + ", ".join(f"ADD COLUMN {col} {ddl}" for col, ddl in LEGACY_COLUMN_DDL)
        )
    else:
        for enum, labels in shape.enums.items():
            op.execute(legacy_shape.create_enum_sql(enum, labels))
        op.execute(
            "ALTER TABLE models "
            + ", ".join(
                legacy_shape.add_column_sql(shape.columns[col])
                for col, _ in LEGACY_COLUMN_DDL
                if col in shape.columns
            )
        )
    op.execute(legacy_sync.CREATE_FUNCTIONS)
    if not is_offline():
        _refuse_unrepresentable_rows()
    assignments = ", ".join(legacy_sync.LEGACY_COLUMNS)
    selected = ", ".join(f"x.{col}" for col in legacy_sync.LEGACY_COLUMNS)
    op.execute(
        f"UPDATE models SET ({assignments}) = ("
        f" SELECT {selected}"
        f" FROM jsonb_populate_record(NULL::models, modelreg_meta_to_columns(meta)) x"
        f"), is_deprecated = is_legacy"
    )
    if shape is not None:
        _restore_recorded(shape)
    op.execute(legacy_sync.CREATE_TRIGGER)


def _restore_recorded(shape: legacy_shape.Shape) -> None:
    """What a recorded column had that ADD COLUMN could not give it before the rows were
    filled (NOT NULL without a default), then the indexes the contract dropped with it."""
    late_not_null = [
        legacy_shape.quote(c.name)
        for c in shape.columns.values()
        if c.not_null and c.default is None
    ]
    if late_not_null:
        op.execute(
            "ALTER TABLE models "
            + ", ".join(f"ALTER COLUMN {name} SET NOT NULL" for name in late_not_null)
        )
    # Built inside this transaction: the old columns are back only when it commits, and the
    # catalog table is small enough for a plain build.
    for definition in shape.indexes.values():
        op.execute(definition)
    legacy_shape.forget(op.get_bind(), revision)


def _refuse_unrepresentable_rows() -> None:
    rows = op.get_bind().execute(
        text(
            "SELECT id, problem FROM ("
            " SELECT id, modelreg_legacy_problem(meta) AS problem FROM models"
            ") checked WHERE problem IS NOT NULL ORDER BY id"
        )
    )
    problems = [(str(r.id), str(r.problem)) for r in rows]
    if problems:
        raise DowngradeWouldLoseData(revision, problems)
