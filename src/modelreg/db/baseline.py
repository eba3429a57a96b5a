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
VARCHAR = "-- squawk-ignore prefer-text-field\n    "
INT4 = "-- squawk-ignore prefer-bigint-over-int\n    "
CREATE_TABLE = f"""-- squawk-ignore prefer-robust-stmts
CREATE TABLE models (
    {VARCHAR}id varchar(100) PRIMARY KEY,
    {VARCHAR}name varchar(255) NOT NULL,
    {VARCHAR}display_name varchar(255) NOT NULL,
    {VARCHAR}provider varchar(100) NOT NULL,
    description text,
    capabilities model_capability[],
    {INT4}context_length integer NOT NULL,
    {INT4}max_output_tokens integer,
    {INT4}input_cost_per_million_tokens integer NOT NULL,
    {INT4}output_cost_per_million_tokens integer NOT NULL,
    {INT4}credits_per_1k_tokens integer NOT NULL,
    is_available boolean NOT NULL DEFAULT true,
    is_deprecated boolean NOT NULL DEFAULT false,
    {VARCHAR}version varchar(50),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    required_tier subscription_tier NOT NULL DEFAULT 'free',
    {VARCHAR}tier_restriction_mode varchar(20) NOT NULL DEFAULT 'minimum',
    allowed_tiers subscription_tier[] NOT NULL DEFAULT '{{}}'
)
"""

DROP = ("DROP TABLE models", "DROP TYPE model_capability", "DROP TYPE subscription_tier")
