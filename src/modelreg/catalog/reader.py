"""Where the public API reads the catalog from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.catalog.models import CatalogState, Model
from modelreg.catalog.query import PublicModel, public_model


@dataclass(frozen=True)
class CatalogView:
    """Every model (archived included), sorted by id, and the revision they were read at."""

    revision: int
    models: tuple[PublicModel, ...]
    by_id: dict[str, PublicModel] = field(compare=False)

    @classmethod
    def of(cls, revision: int, models: list[PublicModel]) -> CatalogView:
        ordered = tuple(sorted(models, key=lambda m: m.id))
        return cls(revision=revision, models=ordered, by_id={m.id: m for m in ordered})


class CatalogReader(Protocol):
    async def view(self) -> CatalogView: ...


async def load_view(session: AsyncSession) -> CatalogView:
    """Read the whole catalog in one transaction (a consistent revision and rows)."""
    async with session.begin():
        revision = (await session.execute(select(CatalogState.revision))).scalar_one()
        rows = (await session.execute(select(Model).order_by(Model.id))).scalars().all()
        return CatalogView.of(int(revision), [public_model(m) for m in rows])


@dataclass
class DatabaseReader:
    """Reads the catalog from the database on every call."""

    sessionmaker: async_sessionmaker[AsyncSession]

    async def view(self) -> CatalogView:
        async with self.sessionmaker() as session:
            return await load_view(session)
