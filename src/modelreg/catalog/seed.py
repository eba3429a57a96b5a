"""Load the shipped catalog (`catalog/data/models.json`) into the database."""

from __future__ import annotations

from sqlalchemy.engine import URL

from modelreg.catalog import repository
from modelreg.catalog.seed_data import load_seed_models
from modelreg.db import migrate
from modelreg.db.engine import sync_engine
from modelreg.exceptions import ModelRegError


class SchemaNotCurrent(ModelRegError):
    status_code = 409
    code = "schema_not_current"

    def __init__(self, current: str | None, head: str):
        super().__init__(
            f"the database is at revision {current or 'none'}, the catalog needs {head}: "
            "run `modelreg db upgrade` first"
        )


def seed_catalog(url: URL) -> tuple[int, int]:
    """Insert the shipped models that are missing; return (inserted, shipped)."""
    head = migrate.head_revision()
    current = migrate.current_revision(url)
    if current != head:
        raise SchemaNotCurrent(current, head)
    models = load_seed_models()
    rows = [
        {
            "id": m.id,
            "name": m.name,
            "provider": m.provider,
            "is_available": m.is_available,
            "is_legacy": m.is_legacy,
            "meta": m.meta.to_storage(),
        }
        for m in models
    ]
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            inserted = repository.insert_missing(conn, rows)
    finally:
        engine.dispose()
    return inserted, len(rows)
