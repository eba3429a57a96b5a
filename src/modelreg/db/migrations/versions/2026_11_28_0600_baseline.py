"""baseline: the wide `models` table the catalog started as.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-28 06:00

Reproduces the original schema column for column (types, nullability, defaults), so databases
created before modelreg existed can be adopted (`modelreg db adopt`) and taken forward.
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_local_lock_timeout()
    op.execute(
        "CREATE TYPE subscription_tier AS ENUM"
        " ('free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max', 'perpetual')"
    )
    op.execute(
        "CREATE TYPE model_capability AS ENUM"
        " ('text', 'vision', 'function_calling', 'code', 'long_context')"
    )
    # The legacy shape as it was, varchar and int included: squawk's style rules for new
    # tables do not apply to a faithful copy of an existing one.
    op.execute(
        """
        -- squawk-ignore prefer-text-field,prefer-bigint-over-int,prefer-identity
        CREATE TABLE models (
            id varchar(100) PRIMARY KEY,
            name varchar(255) NOT NULL,
            display_name varchar(255) NOT NULL,
            provider varchar(100) NOT NULL,
            description text,
            capabilities model_capability[],
            context_length integer NOT NULL,
            max_output_tokens integer,
            input_cost_per_million_tokens integer NOT NULL,
            output_cost_per_million_tokens integer NOT NULL,
            credits_per_1k_tokens integer NOT NULL,
            is_available boolean NOT NULL DEFAULT true,
            is_deprecated boolean NOT NULL DEFAULT false,
            version varchar(50),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            required_tier subscription_tier NOT NULL DEFAULT 'free',
            tier_restriction_mode varchar(20) NOT NULL DEFAULT 'minimum',
            allowed_tiers subscription_tier[] NOT NULL DEFAULT '{}'
        )
        """
    )


def downgrade() -> None:
    set_local_lock_timeout()
    op.execute("DROP TABLE models")
    op.execute("DROP TYPE model_capability")
    op.execute("DROP TYPE subscription_tier")
