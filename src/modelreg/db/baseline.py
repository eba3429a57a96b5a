"""The legacy schema the catalog started as: created by 0001_baseline, compared by `db adopt`.

Part of the migration history: never edit in place.
"""

from __future__ import annotations

CREATE_TYPES: tuple[str, ...] = (
    "CREATE TYPE subscription_tier AS ENUM"
    " ('free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max', 'perpetual')",
    "CREATE TYPE model_capability AS ENUM"
    " ('text', 'vision', 'function_calling', 'code', 'long_context')",
)

# The legacy shape as it was, varchar and int included: squawk's style rules for new tables do
# not apply to a faithful copy of an existing one.
CREATE_TABLE = """
-- squawk-ignore prefer-text-field,prefer-bigint-over-int,prefer-robust-stmts
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

DROP = ("DROP TABLE models", "DROP TYPE model_capability", "DROP TYPE subscription_tier")
