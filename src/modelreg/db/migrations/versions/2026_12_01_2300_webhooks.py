"""webhooks: subscriptions with their cursor in the audit log, and the log of delivery attempts.

Revision ID: 0011_webhooks
Revises: 0008_tier_statistics
Create Date: 2026-12-01 23:00

- `webhook_subscriptions`: a URL, the event types it wants, its signing secret, whether it is
  active, and its cursor: the last catalog revision (and how many of the next revision's
  messages) delivered. The audit log is the outbox; the cursor is all a subscription adds.
- `webhook_attempts`: one row per delivery attempt (status, latency, response code).
- `sunset_notices`: which `model.sunset_approaching` notices were sent (once per lead time).

New tables only: no lock on any table in use.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = "0011_webhooks"
down_revision = "0010_import_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_subscriptions (
            id text PRIMARY KEY,
            url text NOT NULL,
            event_types jsonb NOT NULL DEFAULT '[]',
            secret text NOT NULL,
            is_active boolean NOT NULL DEFAULT true,
            cursor_revision bigint NOT NULL DEFAULT 0,
            cursor_part bigint NOT NULL DEFAULT 0,
            attempts bigint NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            retrying_since timestamptz,
            failing_since timestamptz,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_attempts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subscription_id text NOT NULL
                REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
            message_id text NOT NULL,
            event_type text NOT NULL,
            catalog_revision bigint NOT NULL,
            attempted_at timestamptz NOT NULL DEFAULT now(),
            status text NOT NULL CHECK (status IN ('delivered', 'failed')),
            response_code bigint,
            latency_ms double precision NOT NULL,
            error text
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_webhook_attempts_subscription"
        " ON webhook_attempts (subscription_id, id)"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS sunset_notices (
            model_id text NOT NULL,
            sunset_date text NOT NULL,
            lead_days bigint NOT NULL,
            sent_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (model_id, sunset_date, lead_days)
        )
        """
    )


def downgrade() -> None:
    set_local_lock_timeout()
    op.execute("DROP TABLE IF EXISTS sunset_notices")
    op.execute("DROP TABLE IF EXISTS webhook_attempts")
    op.execute("DROP TABLE IF EXISTS webhook_subscriptions")
