"""Load the shipped catalog (`catalog/data/models.json`) through the service layer (validated,
credits computed from the prices, every model audited as `seed`)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.catalog import service
from modelreg.catalog.schemas import ModelCreate
from modelreg.catalog.seed_data import load_seed_models
from modelreg.db import migrate
from modelreg.db.engine import async_engine

SEED_ACTOR = Actor(name="seed")


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
    migrate.require_head(url)

    async def main() -> int:
        engine = async_engine(url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await _seed(session)
        finally:
            await engine.dispose()

    return asyncio.run(main()), len(load_seed_models())
