"""The shipped catalog (`catalog/data/models.json`: real models with their providers' list
prices) and its loading through the service layer (validated, credits computed from the prices,
every model audited as `seed`)."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.catalog import service
from modelreg.catalog.meta import ModelMeta
from modelreg.catalog.schemas import MODEL_ID_PATTERN, ModelCreate
from modelreg.db import jsonb, migrate
from modelreg.db.engine import async_engine
from modelreg.exceptions import ModelRegError

SEED_ACTOR = Actor(name="seed")


class SeedModel(BaseModel):
    """One model of the shipped catalog: the row columns plus its `meta`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=MODEL_ID_PATTERN)
    name: str
    provider: str
    is_available: bool = True
    is_legacy: bool = False
    meta: ModelMeta


def load_seed_models() -> list[SeedModel]:
    """Read and validate the shipped catalog, in file order."""
    text = (files("modelreg.catalog") / "data" / "models.json").read_text(encoding="utf-8")
    document: Any = jsonb.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise ValueError('models.json must be an object with a "models" list')
    return [SeedModel.model_validate(entry) for entry in document["models"]]


class SchemaNotCurrent(ModelRegError):
    status_code = 409
    code = "schema_not_current"

    def __init__(self, current: str | None, head: str):
        super().__init__(
            f"the database is at revision {current or 'none'}, the catalog needs {head}: "
            "run `modelreg db upgrade` first"
        )


async def _seed(session: AsyncSession) -> int:
    inserted = 0
    # Replacements first, so that every legacy model's replacement exists when it is added.
    for seed in sorted(load_seed_models(), key=lambda m: m.is_legacy):
        meta = seed.meta.to_storage()
        meta["creditsPinned"] = False  # the shipped credits follow the prices
        data = ModelCreate(
            id=seed.id,
            name=seed.name,
            provider=seed.provider,
            is_available=seed.is_available,
            meta=meta,
            reason="shipped catalog",
        )
        added = await service.import_model(
            session, data, SEED_ACTOR, is_legacy=seed.is_legacy, action="seed"
        )
        inserted += added is not None
    return inserted


def seed_catalog(url: URL) -> tuple[int, int]:
    """Insert the shipped models that are missing; return (inserted, shipped)."""
    head = migrate.head_revision()
    current = migrate.current_revision(url)
    if current != head:
        raise SchemaNotCurrent(current, head)

    async def main() -> int:
        engine = async_engine(url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await _seed(session)
        finally:
            await engine.dispose()

    return asyncio.run(main()), len(load_seed_models())
