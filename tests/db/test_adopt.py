"""`modelreg db adopt`: take over a baseline-shaped table another tool created."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import migrate

# The same shape as 0001_baseline, written the way another tool would: other column order,
# separate statements, types spelled differently.
OTHER_TOOL_DDL = """
CREATE TYPE subscription_tier AS ENUM
    ('free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max', 'perpetual');
CREATE TYPE model_capability AS ENUM
    ('text', 'vision', 'function_calling', 'code', 'long_context');
CREATE TABLE models (
    id character varying(100) NOT NULL,
    display_name character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    provider character varying(100) NOT NULL,
    capabilities model_capability[],
    description text,
    context_length int4 NOT NULL,
    max_output_tokens int4,
    input_cost_per_million_tokens int4 NOT NULL,
    output_cost_per_million_tokens int4 NOT NULL,
    credits_per_1k_tokens int4 NOT NULL,
    is_available bool NOT NULL DEFAULT true,
    is_deprecated bool NOT NULL DEFAULT false,
    version character varying(50),
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    required_tier subscription_tier NOT NULL DEFAULT 'free'::subscription_tier,
    tier_restriction_mode character varying(20) NOT NULL DEFAULT 'minimum'::character varying,
    allowed_tiers subscription_tier[] NOT NULL DEFAULT '{}'::subscription_tier[]
);
ALTER TABLE models ADD CONSTRAINT models_pkey PRIMARY KEY (id);
INSERT INTO models (id, display_name, name, provider, capabilities, context_length,
    input_cost_per_million_tokens, output_cost_per_million_tokens, credits_per_1k_tokens,
    is_deprecated, required_tier)
VALUES ('gpt-4o', 'GPT-4o', 'GPT-4o', 'openai', '{text,vision}', 128000, 250, 1000, 7,
    true, 'pro');
"""


def _plain_sql_database(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    *extra: str,
) -> URL:
    url = database_at(None)
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql(OTHER_TOOL_DDL)
        for statement in extra:
            conn.exec_driver_sql(statement)
    return url


def test_mismatched_table_is_reported_column_by_column_and_not_stamped(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(
        database_at,
        engine_for,
        "UPDATE models SET description = ''",
        "ALTER TABLE models ALTER COLUMN description SET NOT NULL",
        "ALTER TABLE models ALTER COLUMN context_length TYPE bigint",
        "ALTER TABLE models DROP COLUMN version",
        "ALTER TABLE models ADD COLUMN region text",
    )
    use_database(url)
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert result.exit_code == 1
    assert "column description: NOT NULL, expected nullable" in result.stderr
    assert "column context_length: type is bigint, expected integer" in result.stderr
    assert "column version: missing" in result.stderr
    assert "column region: not in the baseline schema" in result.stderr
    assert "nothing was stamped" in result.stderr
    assert migrate.current_revision(url) is None


def test_enum_with_other_labels_is_reported(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(
        database_at, engine_for, "ALTER TYPE subscription_tier ADD VALUE 'team'"
    )
    use_database(url)
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert result.exit_code == 1
    assert "type subscription_tier: labels are" in result.stderr


def test_empty_database_has_nothing_to_adopt(
    database_at: Callable[[str | None], URL], use_database: Callable[[URL], None]
) -> None:
    use_database(database_at(None))
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert result.exit_code == 1
    assert "there is no table public.models" in result.stderr


def test_matching_table_is_stamped_then_upgraded_and_verified(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(database_at, engine_for)
    use_database(url)
    runner = CliRunner()
    adopted = runner.invoke(app, ["db", "adopt"])
    assert adopted.exit_code == 0, adopted.output
    assert migrate.current_revision(url) == "0001_baseline"

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert migrate.current_revision(url) == migrate.head_revision()
    with engine_for(url).connect() as conn:
        row = conn.execute(text("SELECT is_legacy, meta FROM models WHERE id = 'gpt-4o'")).one()
    assert row.is_legacy is True
    assert row.meta["capabilities"] == ["text", "vision"]
    verified = runner.invoke(app, ["db", "verify"])
    assert verified.exit_code == 0, verified.stdout

    again = runner.invoke(app, ["db", "adopt"])
    assert again.exit_code == 0
    assert "already managed" in again.stdout
