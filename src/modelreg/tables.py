"""Every ORM table in one metadata, and the comparison of that metadata with a migrated database
(the drift check: the ORM and the migrations must agree)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from modelreg.audit import models as audit_models
from modelreg.auth import models as auth_models
from modelreg.catalog import models as catalog_models
from modelreg.console import models as console_models
from modelreg.db.base import Base
from modelreg.db.indexes import INDEXES
from modelreg.db.legacy_shape import TABLE as LEGACY_SHAPE
from modelreg.events import models as events_models
from modelreg.imports import models as import_models

# Imported for their side effect: each module registers its tables on Base.
TABLE_MODULES = (
    audit_models,
    auth_models,
    catalog_models,
    console_models,
    events_models,
    import_models,
)
# Expression and GIN indexes on `models` are built from modelreg.db.indexes and proven by
# `db verify` (which compares their definitions exactly); Alembic cannot compare expressions.
VERIFIED_ELSEWHERE = frozenset(spec.name for spec in INDEXES)
# The migrations' bookkeeping, no part of the ORM: alembic's version table, and what the old
# table looked like (kept by `db adopt` and 0006_contract for the downgrades).
BOOKKEEPING = frozenset(("alembic_version", LEGACY_SHAPE))


def metadata() -> MetaData:
    return Base.metadata


def include_in_comparison(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "index" and name in VERIFIED_ELSEWHERE:
        return False
    return not (type_ == "table" and name in BOOKKEEPING)


def drift(conn: Connection) -> list[Any]:
    """What differs between the ORM and the database `conn` is connected to (empty: none)."""
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_in_comparison,
        },
    )
    return list(compare_metadata(context, metadata()))
