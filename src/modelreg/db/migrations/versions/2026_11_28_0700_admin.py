"""admin: row versions, the catalog revision, audit events, version history and API tokens.

Revision ID: 0007_admin
Revises: 0006_contract
Create Date: 2026-11-28 07:00

- `models.version`: the row version behind ETags and optimistic concurrency (starts at 1).
- `models.available_before_archive`: what `unarchive` restores.
- `catalog_state.revision`: one number that goes up with every committed change.
- `audit_events`, `model_versions`: append-only (a trigger refuses UPDATE and DELETE).
- `api_tokens`: hashed API tokens with a role.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from modelreg.db.ddl import is_offline, set_local_lock_timeout
from modelreg.db.exceptions import DowngradeWouldLoseData

revision = "0007_admin"
down_revision = "0006_contract"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        "ALTER TABLE models"
        " ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,"
        " ADD COLUMN IF NOT EXISTS available_before_archive boolean"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS catalog_state (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            revision bigint NOT NULL DEFAULT 1,
            changed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("INSERT INTO catalog_state DEFAULT VALUES ON CONFLICT DO NOTHING")
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS audit_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            occurred_at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            action text NOT NULL,
            model_id text,
            model_version bigint,
            catalog_revision bigint,
            before jsonb,
            after jsonb,
            diff jsonb NOT NULL DEFAULT '[]',
            reason text,
            request_id text
        )
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS idx_audit_events_model ON audit_events (model_id, id)")
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_audit_events_occurred_at ON audit_events (occurred_at)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_audit_events_catalog_revision"
        " ON audit_events (catalog_revision)"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS model_versions (
            model_id text NOT NULL,
            version bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            action text NOT NULL,
            reason text,
            state jsonb NOT NULL,
            diff jsonb NOT NULL DEFAULT '[]',
            audit_event_id bigint NOT NULL REFERENCES audit_events (id),
            PRIMARY KEY (model_id, version)
        )
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION modelreg_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            RAISE EXCEPTION USING
                ERRCODE = 'insufficient_privilege',
                MESSAGE = format('%s is append-only: %s refused', TG_TABLE_NAME, TG_OP);
        END
        $fn$
        """
    )
    for table in ("audit_events", "model_versions"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION modelreg_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION modelreg_append_only()"
        )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS api_tokens (
            id text PRIMARY KEY,
            name text NOT NULL,
            role text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
            secret_hash text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text NOT NULL,
            revoked_at timestamptz,
            last_used_at timestamptz
        )
        """
    )


def downgrade() -> None:
    set_local_lock_timeout()
    if not is_offline():
        _refuse_to_drop_history()
    op.execute("DROP TABLE IF EXISTS api_tokens")
    op.execute("DROP TABLE IF EXISTS model_versions")
    op.execute("DROP TABLE IF EXISTS audit_events")
    op.execute("DROP FUNCTION IF EXISTS modelreg_append_only()")
    op.execute("DROP TABLE IF EXISTS catalog_state")
    op.execute(
        "ALTER TABLE models DROP COLUMN IF EXISTS available_before_archive,"
        " DROP COLUMN IF EXISTS version"
    )


def _refuse_to_drop_history() -> None:
    """The audit trail, the version history and the tokens exist nowhere else."""
    counts = (
        op.get_bind()
        .execute(
            text(
                "SELECT (SELECT count(*) FROM audit_events) AS audit_events,"
                " (SELECT count(*) FROM model_versions) AS model_versions,"
                " (SELECT count(*) FROM api_tokens) AS api_tokens"
            )
        )
        .one()
    )
    held = [(table, int(n)) for table, n in counts._mapping.items() if n]
    if held:
        raise DowngradeWouldLoseData(
            revision,
            [
                (
                    table,
                    f"{n} row(s) would be dropped; export them (pg_dump -t {table}) and "
                    "empty the table to go on",
                )
                for table, n in held
            ],
        )
