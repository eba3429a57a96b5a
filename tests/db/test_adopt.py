"""`modelreg db adopt`: take over a baseline-shaped table another tool created."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.db import legacy_shape, migrate
from modelreg.db.legacy_shape import Shape
from tests.db.legacy import row_hashes
from tests.db.prisma import WITHOUT_CAPABILITIES, create_prisma_catalog

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


def _prisma_database(
    database_at: Callable[[str | None], URL], engine_for: Callable[[URL], Engine], *extra: str
) -> URL:
    url = database_at(None)
    with engine_for(url).begin() as conn:
        create_prisma_catalog(conn)
        for statement in extra:
            conn.exec_driver_sql(statement)
    return url


def _shape(engine: Engine) -> Shape:
    with engine.connect() as conn:
        return legacy_shape.read(conn)


def _adopt(url: URL) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["db", "adopt"])
    return result.exit_code, result.stdout, result.stderr


def test_missing_column_incompatible_type_and_not_null_block_with_remedies(
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
        "ALTER TABLE models ALTER COLUMN provider TYPE varchar(50)",
        "ALTER TABLE models DROP COLUMN version",
        "ALTER TABLE models ADD COLUMN region text NOT NULL DEFAULT 'eu'",
        "ALTER TABLE models ADD COLUMN owner_team text NOT NULL DEFAULT 'ml'",
        "ALTER TABLE models ALTER COLUMN owner_team DROP DEFAULT",
    )
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    assert "column description: NOT NULL, expected nullable" in stderr
    assert "ALTER TABLE models ALTER COLUMN description DROP NOT NULL" in stderr
    assert "column context_length: type is bigint, expected integer" in stderr
    assert "ALTER TABLE models ALTER COLUMN context_length TYPE integer" in stderr
    assert "column provider: type is character varying(50), expected character varying(100)" in (
        stderr
    )
    assert "column version: missing" in stderr
    assert "ALTER TABLE models ADD COLUMN version character varying(50)" in stderr
    assert "column owner_team: not in the baseline schema, NOT NULL without a default" in stderr
    # Compatible ones are listed too, as what would be adopted.
    assert "column region: not in the baseline schema" in stderr
    assert "neither reads nor writes it" in stderr
    assert "nothing was stamped" in stderr
    assert migrate.current_revision(url) is None
    with engine_for(url).connect() as conn:
        assert legacy_shape.recorded(conn, legacy_shape.ADOPTED) is None


def test_nulls_the_mapping_carries_are_adopted_and_others_block(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(
        database_at,
        engine_for,
        "ALTER TABLE models ALTER COLUMN display_name DROP NOT NULL",
        "ALTER TABLE models ALTER COLUMN is_deprecated DROP NOT NULL",
        "UPDATE models SET display_name = NULL, is_deprecated = NULL",
    )
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    # is_deprecated becomes is_legacy, which cannot be NULL: blocking, with the rows.
    assert "column is_deprecated: nullable, expected NOT NULL; rows gpt-4o hold NULL" in stderr
    assert "UPDATE models SET is_deprecated = ... WHERE is_deprecated IS NULL" in stderr
    # A NULL display name becomes a meta that db verify reports and model patch fixes.
    assert "column display_name: nullable, expected NOT NULL" in stderr
    assert "`modelreg db verify` reports" in stderr

    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("UPDATE models SET is_deprecated = true")
    code, stdout, _ = _adopt(url)
    assert code == 0
    assert "rows holding NULL (gpt-4o)" in stdout


def test_no_primary_key_blocks(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(
        database_at, engine_for, "ALTER TABLE models DROP CONSTRAINT models_pkey"
    )
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    assert "primary key: is (none), expected (id)" in stderr
    assert "ALTER TABLE models ADD PRIMARY KEY (id)" in stderr
    assert migrate.current_revision(url) is None


def test_enum_label_rows_use_but_the_baseline_lacks_blocks_naming_the_rows(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _plain_sql_database(
        database_at,
        engine_for,
        "ALTER TYPE subscription_tier ADD VALUE 'team'",
        "ALTER TYPE model_capability ADD VALUE 'audio'",
    )
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("UPDATE models SET allowed_tiers = '{team}'")
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    assert "type subscription_tier: label 'team' is not in the baseline and rows gpt-4o use it" in (
        stderr
    )
    assert "array_remove(allowed_tiers, 'team')" in stderr
    # The capability label no row uses is compatible.
    assert "type model_capability: extra label 'audio', used by no row" in stderr
    assert migrate.current_revision(url) is None


def test_enum_missing_a_baseline_label_blocks(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = database_at(None)
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql(OTHER_TOOL_DDL.replace("'code', 'long_context'", "'code'"))
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    assert "ALTER TYPE model_capability ADD VALUE 'long_context'" in stderr


def test_prisma_enum_names_block_with_a_rename(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _prisma_database(
        database_at, engine_for, 'ALTER TYPE "subscription_tier" RENAME TO "SubscriptionTier"'
    )
    use_database(url)
    code, _, stderr = _adopt(url)
    assert code == 1
    assert 'ALTER TYPE "SubscriptionTier" RENAME TO subscription_tier' in stderr
    assert migrate.current_revision(url) is None


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
    assert "matches the baseline" in adopted.stdout
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


PRISMA_COMPATIBLE = (
    "column created_at: type is timestamp(3) without time zone, expected timestamp with time zone",
    "column created_at: default is CURRENT_TIMESTAMP, expected now()",
    "column updated_at: type is timestamp(3) without time zone, expected timestamp with time zone",
    "column updated_at: default is none, expected now()",
    "column allowed_tiers: nullable, expected NOT NULL",
    "column allowed_tiers: default is ARRAY[]::subscription_tier[], "
    "expected '{}'::subscription_tier[]",
    "type model_capability: extra label 'audio', used by no row",
    "index models_required_tier_idx: not in the baseline schema",
)


def test_prisma_table_is_adopted_reporting_each_compatible_difference(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
) -> None:
    url = _prisma_database(database_at, engine_for)
    use_database(url)
    code, stdout, stderr = _adopt(url)
    assert code == 0, stderr
    reported = [line.strip()[2:] for line in stdout.splitlines() if line.startswith("  - ")]
    assert sorted(reported) == sorted(PRISMA_COMPATIBLE)
    assert stdout.count("handled: ") == len(PRISMA_COMPATIBLE)
    assert "converted to timestamptz" in stdout
    assert "its downgrade builds it again" in stdout
    assert migrate.current_revision(url) == "0001_baseline"
    with engine_for(url).connect() as conn:
        recorded = legacy_shape.recorded(conn, legacy_shape.ADOPTED)
    assert recorded is not None
    assert recorded.columns["created_at"].type == "timestamp(3) without time zone"
    assert recorded.indexes == {
        "models_required_tier_idx": "CREATE INDEX models_required_tier_idx ON public.models"
        " USING btree (required_tier)"
    }


@pytest.mark.parametrize("through", ["0005_validate", "head"])
def test_prisma_table_round_trip_gives_back_the_adopted_table(
    database_at: Callable[[str | None], URL],
    engine_for: Callable[[URL], Engine],
    use_database: Callable[[URL], None],
    through: str,
) -> None:
    url = _prisma_database(database_at, engine_for)
    engine = engine_for(url)
    adopted_shape = _shape(engine)
    with engine.connect() as conn:
        # What the contract downgrade normalises (documented): NULL description, version,
        # capabilities and allowed_tiers come back as '' and empty arrays.
        expected_rows = row_hashes(conn, normalised=through == "head")
        instants: dict[str, object] = dict(
            conn.execute(text("SELECT id, created_at AT TIME ZONE 'UTC' FROM models")).all()
        )
        storage = conn.execute(text("SELECT pg_relation_filenode('models')")).scalar_one()
    use_database(url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "adopt"]).exit_code == 0

    upgraded = runner.invoke(app, ["db", "upgrade", through])
    assert upgraded.exit_code == 0, upgraded.output
    upgraded_shape = _shape(engine)
    assert upgraded_shape.columns["created_at"].type == "timestamp with time zone"
    with engine.connect() as conn:  # converted without rewriting the table
        assert conn.execute(text("SELECT pg_relation_filenode('models')")).scalar_one() == storage
    assert upgraded_shape.columns["updated_at"].default == "now()"
    with engine.begin() as conn:
        # The same instants, now with their time zone (UTC, as Prisma stored them).
        assert dict(conn.execute(text("SELECT id, created_at FROM models")).all()) == instants
        # modelreg's own inserts rely on the defaults the upgrade added.
        if through == "head":
            conn.execute(
                text(
                    "INSERT INTO models (id, name, provider, meta) SELECT 'probe', 'probe', 'x',"
                    " meta FROM models WHERE id = 'gpt-4o'"
                )
            )
            conn.execute(text("DELETE FROM models WHERE id = 'probe'"))

    verified = runner.invoke(app, ["db", "verify", "--format", "json"])
    report = json.loads(verified.stdout)
    assert [r["id"] for r in report["failures"]["invalid_meta"]] == sorted(WITHOUT_CAPABILITIES)
    assert all(i["present"] and i["valid"] and i["matches"] for i in report["indexes"])
    assert all(q["uses_index"] for q in report["queries"])

    downgraded = runner.invoke(app, ["db", "downgrade", "0001_baseline"])
    assert downgraded.exit_code == 0, downgraded.output
    assert _shape(engine) == adopted_shape
    with engine.connect() as conn:
        assert row_hashes(conn) == expected_rows
        assert legacy_shape.recorded(conn, legacy_shape.CONTRACT) is None

    # And forward again: the adopted record still drives the next round.
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "downgrade", "0001_baseline"]).exit_code == 0
    assert _shape(engine) == adopted_shape


def test_contract_keeps_and_rebuilds_an_index_added_later_on_an_old_column(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0005_validate")
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE INDEX models_cheap_idx ON models (credits_per_1k_tokens)"
            " WHERE NOT is_deprecated"
        )
    before = _shape(engine)
    migrate.upgrade(url, "0006_contract")
    assert "models_cheap_idx" not in _shape(engine).indexes
    migrate.downgrade(url, "0005_validate")
    assert _shape(engine) == before
