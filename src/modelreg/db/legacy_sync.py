"""The one mapping between the legacy wide columns and `meta`, as SQL.

Installed by revision 0002_expand, used by its trigger and by 0003_backfill, removed by
0006_contract and re-installed by 0006's downgrade to rebuild the old columns. It is part of
those migrations' history: change it only together with a new revision, never in place.

- ``modelreg_row_to_meta(models)``: what the old columns of a row say, as meta keys.
- ``modelreg_meta_to_columns(jsonb)``: what a meta says, as old column values (raises when a
  value cannot be represented there: a sub-cent price, fractional credits, an unknown tier).
- ``modelreg_new_meta_defaults(bool)``: the keys only the new schema has, at their defaults.
- ``modelreg_backfill_meta(models)``: defaults + row mapping: the meta of a row nobody wrote yet.
- ``modelreg_legacy_problem(jsonb)``: NULL, or why a meta cannot go back to the old columns.
- trigger ``models_sync_legacy_columns``: keeps both shapes in step while both exist.
"""

from __future__ import annotations

# (meta key, legacy column): the fields both shapes carry.
LEGACY_FIELDS: tuple[tuple[str, str], ...] = (
    ("displayName", "display_name"),
    ("description", "description"),
    ("version", "version"),
    ("capabilities", "capabilities"),
    ("contextLength", "context_length"),
    ("maxOutputTokens", "max_output_tokens"),
    ("inputCostUsdPerMillionTokens", "input_cost_per_million_tokens"),
    ("outputCostUsdPerMillionTokens", "output_cost_per_million_tokens"),
    ("creditsPer1kTokens", "credits_per_1k_tokens"),
    ("requiredTier", "required_tier"),
    ("tierRestrictionMode", "tier_restriction_mode"),
    ("allowedTiers", "allowed_tiers"),
)
LEGACY_META_KEYS: tuple[str, ...] = tuple(key for key, _ in LEGACY_FIELDS)
LEGACY_COLUMNS: tuple[str, ...] = tuple(column for _, column in LEGACY_FIELDS)

# Written to rows the backfill turns from is_deprecated into is_legacy.
MIGRATED_DEPRECATION_NOTICE = "This model is deprecated."

_LEGACY_KEYS_ARRAY = "ARRAY[" + ", ".join(f"'{key}'" for key in LEGACY_META_KEYS) + "]::text[]"
_FIELD_ROWS = ",\n            ".join(f"('{key}', '{col}')" for key, col in LEGACY_FIELDS)

CREATE_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION modelreg_row_to_meta(r models) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT jsonb_build_object(
        'displayName', r.display_name,
        'description', coalesce(r.description, ''),
        'version', coalesce(r.version, ''),
        'capabilities', coalesce(to_jsonb(r.capabilities::text[]), '[]'::jsonb),
        'contextLength', r.context_length,
        'inputCostUsdPerMillionTokens',
            trim_scale(r.input_cost_per_million_tokens::numeric / 100),
        'outputCostUsdPerMillionTokens',
            trim_scale(r.output_cost_per_million_tokens::numeric / 100),
        'creditsPer1kTokens', r.credits_per_1k_tokens,
        'requiredTier', r.required_tier::text,
        'tierRestrictionMode', r.tier_restriction_mode,
        'allowedTiers', coalesce(to_jsonb(r.allowed_tiers::text[]), '[]'::jsonb)
    ) || CASE WHEN r.max_output_tokens IS NULL THEN '{{}}'::jsonb
              ELSE jsonb_build_object('maxOutputTokens', r.max_output_tokens) END
$fn$;

CREATE OR REPLACE FUNCTION modelreg_jsonb_to_int(v jsonb, field text, scale numeric)
RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    n numeric;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    n := (v #>> '{{}}')::numeric * scale;
    IF n <> trunc(n) OR n < -2147483648 OR n > 2147483647 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'numeric_value_out_of_range',
            MESSAGE = format(
                'meta.%s = %s cannot be stored in the legacy integer column', field, v),
            HINT = CASE WHEN scale = 100
                        THEN 'the legacy column holds whole US cents per million tokens'
                        ELSE 'the legacy column holds whole numbers' END;
    END IF;
    RETURN n::integer;
END
$fn$;

CREATE OR REPLACE FUNCTION modelreg_meta_to_columns(meta jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT jsonb_build_object(
        'display_name', meta -> 'displayName',
        'description', meta -> 'description',
        'version', meta -> 'version',
        'capabilities', meta -> 'capabilities',
        'context_length',
            modelreg_jsonb_to_int(meta -> 'contextLength', 'contextLength', 1),
        'max_output_tokens',
            modelreg_jsonb_to_int(meta -> 'maxOutputTokens', 'maxOutputTokens', 1),
        'input_cost_per_million_tokens', modelreg_jsonb_to_int(
            meta -> 'inputCostUsdPerMillionTokens', 'inputCostUsdPerMillionTokens', 100),
        'output_cost_per_million_tokens', modelreg_jsonb_to_int(
            meta -> 'outputCostUsdPerMillionTokens', 'outputCostUsdPerMillionTokens', 100),
        'credits_per_1k_tokens',
            modelreg_jsonb_to_int(meta -> 'creditsPer1kTokens', 'creditsPer1kTokens', 1),
        'required_tier', meta -> 'requiredTier',
        'tier_restriction_mode', meta -> 'tierRestrictionMode',
        'allowed_tiers', coalesce(meta -> 'allowedTiers', '[]'::jsonb)
    )
$fn$;

CREATE OR REPLACE FUNCTION modelreg_new_meta_defaults(deprecated boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT jsonb_build_object(
        'legacyReplacementModelId', NULL,
        'deprecationNotice',
            CASE WHEN deprecated THEN '{MIGRATED_DEPRECATION_NOTICE}' ELSE NULL END,
        'sunsetDate', NULL,
        'providerMetadata', '{{}}'::jsonb,
        'internalNotes', '',
        'complianceTags', '[]'::jsonb
    )
$fn$;

CREATE OR REPLACE FUNCTION modelreg_backfill_meta(r models) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT modelreg_new_meta_defaults(coalesce(r.is_deprecated, false))
        || modelreg_row_to_meta(r)
$fn$;

CREATE OR REPLACE FUNCTION modelreg_legacy_problem(meta jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    ignored models;
BEGIN
    ignored := jsonb_populate_record(NULL::models, modelreg_meta_to_columns(meta));
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$fn$;

CREATE OR REPLACE FUNCTION modelreg_sync_legacy_columns() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    derived jsonb;
    mapped jsonb;
    patch jsonb := '{{}}'::jsonb;
    f record;
BEGIN
    -- is_deprecated (old) and is_legacy (new) are one flag seen by two writers.
    IF TG_OP = 'INSERT' THEN
        NEW.is_legacy := coalesce(NEW.is_legacy, false) OR coalesce(NEW.is_deprecated, false);
        NEW.is_deprecated := NEW.is_legacy;
    ELSIF NEW.is_legacy IS DISTINCT FROM OLD.is_legacy
          AND NEW.is_deprecated IS NOT DISTINCT FROM OLD.is_deprecated THEN
        NEW.is_deprecated := NEW.is_legacy;  -- a new writer flipped is_legacy
    ELSE
        NEW.is_legacy := NEW.is_deprecated;  -- an old writer, or a row from before the expand
    END IF;

    IF (TG_OP = 'INSERT' AND NEW.meta IS NULL)
       OR (TG_OP = 'UPDATE' AND NEW.meta IS NOT DISTINCT FROM OLD.meta) THEN
        -- An old writer: meta follows the columns; keys only meta has are kept.
        IF TG_OP = 'INSERT' OR OLD.meta IS NULL THEN
            NEW.meta := modelreg_backfill_meta(NEW);
        ELSE
            -- The legacy keys are rebuilt whole: a column set to NULL must drop its key
            -- (maxOutputTokens), not leave the old value behind.
            NEW.meta := (OLD.meta - {_LEGACY_KEYS_ARRAY}) || modelreg_row_to_meta(NEW);
            IF NEW.is_deprecated AND NOT OLD.is_deprecated
               AND coalesce(jsonb_typeof(NEW.meta -> 'deprecationNotice'), 'null') = 'null' THEN
                NEW.meta := NEW.meta || jsonb_build_object(
                    'deprecationNotice', '{MIGRATED_DEPRECATION_NOTICE}');
            END IF;
        END IF;
        RETURN NEW;
    END IF;

    -- A new writer: the columns follow meta, field by field, so a column whose value already
    -- means the same (NULL description for "") is left as it is.
    -- A row the backfill has not reached yet: what meta is written onto is the meta its
    -- columns describe, so a partial document updates those values instead of erasing them.
    IF TG_OP = 'UPDATE' AND OLD.meta IS NULL THEN
        NEW.meta := modelreg_backfill_meta(OLD) || NEW.meta;
    END IF;
    derived := modelreg_row_to_meta(NEW);
    mapped := modelreg_meta_to_columns(NEW.meta);
    FOR f IN SELECT * FROM (VALUES
            {_FIELD_ROWS}
        ) AS fields(meta_key, column_name) LOOP
        IF derived -> f.meta_key IS DISTINCT FROM NEW.meta -> f.meta_key THEN
            patch := patch || jsonb_build_object(f.column_name, mapped -> f.column_name);
        END IF;
    END LOOP;
    IF patch <> '{{}}'::jsonb THEN
        NEW := jsonb_populate_record(NEW, patch);
    END IF;
    RETURN NEW;
END
$fn$;
"""

CREATE_TRIGGER = """
CREATE TRIGGER models_sync_legacy_columns
    BEFORE INSERT OR UPDATE ON models
    FOR EACH ROW EXECUTE FUNCTION modelreg_sync_legacy_columns();
"""

DROP_TRIGGER = "DROP TRIGGER IF EXISTS models_sync_legacy_columns ON models;"

# Contract drops these on purpose: by then no writer of the old columns is left to need them.
DROP_FUNCTIONS = "\n".join(
    f"-- squawk-ignore ban-drop-function\nDROP FUNCTION IF EXISTS {signature};"
    for signature in (
        "modelreg_sync_legacy_columns()",
        "modelreg_legacy_problem(jsonb)",
        "modelreg_backfill_meta(models)",
        "modelreg_new_meta_defaults(boolean)",
        "modelreg_meta_to_columns(jsonb)",
        "modelreg_jsonb_to_int(jsonb, text, numeric)",
        "modelreg_row_to_meta(models)",
    )
)
