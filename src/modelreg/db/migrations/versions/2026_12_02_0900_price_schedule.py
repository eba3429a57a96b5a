"""price schedule: every model's price history, with changes scheduled ahead of their time.

Revision ID: 0012_price_schedule
Revises: 0011_webhooks
Create Date: 2026-12-02 09:00

- `model_prices`: one row per price change of a model: the USD prices and credits in force
  from `effective_from`, who recorded them (`recorded_by`, `recorded_at`, the audit event).
  A `scheduled` row was recorded ahead of its time; the scheduler sets `applied_at` when it
  writes it to the model's meta; a cancelled row never takes effect.
- Backfill: the history is rebuilt from `model_versions` (a row for the first version and for
  each version whose prices or credits differ from the one before, effective when that version
  was made, recorded by its actor); a model whose current prices are not its last version's
  (changed with plain SQL) gets a row for them, effective from its last update.

A new table only: no lock on any table in use (model_versions is only read).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.db.ddl import is_offline, set_local_lock_timeout
from modelreg.db.exceptions import DowngradeWouldLoseData

revision = "0012_price_schedule"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None

# The prices and credits of a meta document `m` (versions of the legacy schema have only the
# blended credit rate: it stands for both directions, as on the read side).
_PRICE_COLUMNS = """
    (m->>'inputCostUsdPerMillionTokens')::numeric AS input_usd,
    (m->>'outputCostUsdPerMillionTokens')::numeric AS output_usd,
    (m->>'creditsPer1kTokens')::numeric AS credits_per_1k,
    CASE WHEN jsonb_typeof(m->'inputCreditsPer1kTokens') = 'number'
         THEN (m->>'inputCreditsPer1kTokens')::numeric
         ELSE (m->>'creditsPer1kTokens')::numeric END AS input_credits_per_1k,
    CASE WHEN jsonb_typeof(m->'outputCreditsPer1kTokens') = 'number'
         THEN (m->>'outputCreditsPer1kTokens')::numeric
         ELSE (m->>'creditsPer1kTokens')::numeric END AS output_credits_per_1k,
    coalesce(m->'creditsPinned' = 'true'::jsonb, false) AS credits_pinned
"""
_PRICED = """
    jsonb_typeof(m->'inputCostUsdPerMillionTokens') = 'number'
    AND jsonb_typeof(m->'outputCostUsdPerMillionTokens') = 'number'
    AND jsonb_typeof(m->'creditsPer1kTokens') = 'number'
"""
_VALUES = (
    "input_usd, output_usd, credits_per_1k, input_credits_per_1k, output_credits_per_1k,"
    " credits_pinned"
)


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS model_prices (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            model_id text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
            effective_from timestamptz NOT NULL,
            input_usd numeric NOT NULL,
            output_usd numeric NOT NULL,
            credits_per_1k numeric NOT NULL,
            input_credits_per_1k numeric NOT NULL,
            output_credits_per_1k numeric NOT NULL,
            credits_pinned boolean NOT NULL DEFAULT false,
            scheduled boolean NOT NULL DEFAULT false,
            applied_at timestamptz,
            cancelled_at timestamptz,
            cancelled_by text,
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            reason text,
            audit_event_id bigint REFERENCES audit_events (id)
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_model_prices_model"
        " ON model_prices (model_id, effective_from)"
    )
    op.execute(
        f"""
        INSERT INTO model_prices (model_id, effective_from, {_VALUES}, recorded_by, recorded_at,
                                  reason, audit_event_id)
        SELECT model_id, created_at, {_VALUES}, actor, created_at, reason, audit_event_id
        FROM (
            SELECT p.*, lag(ROW({_VALUES})) OVER (
                       PARTITION BY model_id ORDER BY version) AS previous
            FROM (
                SELECT v.model_id, v.version, v.created_at, v.actor, v.reason,
                       v.audit_event_id, {_PRICE_COLUMNS}
                FROM model_versions v CROSS JOIN LATERAL (SELECT v.state->'meta' AS m) s
                WHERE jsonb_typeof(m) = 'object' AND {_PRICED}
            ) p
        ) changes
        WHERE previous IS NULL OR previous IS DISTINCT FROM ROW({_VALUES})
        ORDER BY model_id, version
        """
    )
    op.execute(
        f"""
        INSERT INTO model_prices (model_id, effective_from, {_VALUES}, recorded_by)
        SELECT current.id,
               CASE WHEN latest.effective_from IS NULL THEN current.created_at
                    ELSE greatest(current.updated_at, latest.effective_from) END,
               {", ".join(f"current.{c.strip()}" for c in _VALUES.split(","))},
               'system:migration'
        FROM (
            SELECT models.id, models.created_at, models.updated_at, {_PRICE_COLUMNS}
            FROM models CROSS JOIN LATERAL (SELECT models.meta AS m) s
            WHERE jsonb_typeof(m) = 'object' AND {_PRICED}
        ) current
        LEFT JOIN LATERAL (
            SELECT * FROM model_prices mp WHERE mp.model_id = current.id
            ORDER BY mp.effective_from DESC, mp.id DESC LIMIT 1
        ) latest ON true
        WHERE latest.id IS NULL
           OR ROW({", ".join(f"latest.{c.strip()}" for c in _VALUES.split(","))})
              IS DISTINCT FROM
              ROW({", ".join(f"current.{c.strip()}" for c in _VALUES.split(","))})
        """
    )


def downgrade() -> None:
    set_local_lock_timeout()
    if not is_offline():
        _refuse_to_drop_pending_prices()
    op.execute("DROP TABLE IF EXISTS model_prices")


def _refuse_to_drop_pending_prices() -> None:
    """The past of the history can be rebuilt from `model_versions` (as the upgrade does); a
    price scheduled and not yet in force exists nowhere else."""
    pending = (
        op.get_bind()
        .execute(
            text(
                "SELECT count(*) FROM model_prices"
                " WHERE scheduled AND applied_at IS NULL AND cancelled_at IS NULL"
            )
        )
        .scalar_one()
    )
    if pending:
        raise DowngradeWouldLoseData(
            revision,
            [
                (
                    "model_prices",
                    f"{pending} scheduled price change(s) not yet in force would be dropped;"
                    " cancel them (DELETE /admin/v1/models/{id}/prices/{priceId}) to go on",
                )
            ],
        )
