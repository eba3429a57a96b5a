"""The indexes the catalog's queries rely on: built by 0004_indexes, checked by `db verify`,
their use counted in /metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text


@dataclass(frozen=True)
class IndexSpec:
    name: str
    # What follows `ON` in CREATE INDEX.
    definition: str
    # pg_get_indexdef() of the built index, without the schema qualifier.
    canonical: str

    @property
    def gin(self) -> bool:
        return " USING gin " in self.canonical


# The storage parameters of the GIN indexes, spelled as pg_get_indexdef() shows them. They take
# every write straight into their tree. With `fastupdate` (PostgreSQL's default) writes go to a
# pending list instead, and the write that finds the list over `gin_pending_list_limit` (4 MB)
# moves all of it into the tree before it returns: a stall of about a second, every few thousand
# writes to `meta`, for whichever writer was unlucky (0013).
GIN_STORAGE = "fastupdate=off"

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(
        "idx_models_is_legacy",
        "models (is_legacy)",
        "CREATE INDEX idx_models_is_legacy ON models USING btree (is_legacy)",
    ),
    IndexSpec(
        "idx_models_is_archived",
        "models (is_archived)",
        "CREATE INDEX idx_models_is_archived ON models USING btree (is_archived)",
    ),
    IndexSpec(
        "idx_models_is_available_is_archived",
        "models (is_available, is_archived)",
        "CREATE INDEX idx_models_is_available_is_archived ON models"
        " USING btree (is_available, is_archived)",
    ),
    IndexSpec(
        "idx_models_meta_gin",
        f"models USING gin (meta) WITH ({GIN_STORAGE})",
        f"CREATE INDEX idx_models_meta_gin ON models USING gin (meta) WITH ({GIN_STORAGE})",
    ),
    IndexSpec(
        "idx_models_meta_required_tier",
        "models ((meta->>'requiredTier'))",
        "CREATE INDEX idx_models_meta_required_tier ON models"
        " USING btree (((meta ->> 'requiredTier'::text)))",
    ),
    # numeric, not integer: credits are fractional, and an integer cast in the index would make
    # every insert of a fractional value fail.
    IndexSpec(
        "idx_models_meta_credits_per_1k",
        "models (((meta->>'creditsPer1kTokens')::numeric))",
        "CREATE INDEX idx_models_meta_credits_per_1k ON models"
        " USING btree ((((meta ->> 'creditsPer1kTokens'::text))::numeric))",
    ),
    IndexSpec(
        "idx_models_meta_capabilities",
        f"models USING gin ((meta->'capabilities')) WITH ({GIN_STORAGE})",
        "CREATE INDEX idx_models_meta_capabilities ON models"
        f" USING gin (((meta -> 'capabilities'::text))) WITH ({GIN_STORAGE})",
    ),
)


# How often PostgreSQL has used each of them, and the models table (since its statistics were
# last reset): rows of (kind, name, scans), kind being 'index' or 'table'.
INDEX_USAGE = text(
    "SELECT 'index' AS kind, i.indexrelname::text AS name, i.idx_scan AS scans"
    " FROM pg_stat_user_indexes i"
    " WHERE i.relid = to_regclass('models') AND i.indexrelname = ANY(CAST(:names AS text[]))"
    " UNION ALL"
    " SELECT 'table', 'sequential', t.seq_scan FROM pg_stat_user_tables t"
    " WHERE t.relid = to_regclass('models')"
    " UNION ALL"
    " SELECT 'table', 'index', coalesce(t.idx_scan, 0) FROM pg_stat_user_tables t"
    " WHERE t.relid = to_regclass('models')"
).bindparams(bindparam("names", value=[index.name for index in INDEXES]))
