"""console sessions: the web console's server-side sign-in sessions.

Revision ID: 0009_console_sessions
Revises: 0008_tier_statistics
Create Date: 2026-12-01 09:00

`console_sessions` holds one row per signed-in browser: the SHA-256 of the session secret the
signed cookie carries, the API token it signed in with (a revoked token ends its sessions; a
deleted one takes them along), its CSRF token and its expiry. A new table: no lock on anything
in use.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = "0009_console_sessions"
down_revision = "0008_tier_statistics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS console_sessions (
            id text PRIMARY KEY,
            token_id text NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    # Sessions are disposable: dropping them signs everyone out of the console, nothing more.
    set_local_lock_timeout()
    op.execute("DROP TABLE IF EXISTS console_sessions")
