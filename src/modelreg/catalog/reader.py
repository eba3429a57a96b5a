"""Where the public API reads the catalog from: a view of every model at one revision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from modelreg.catalog.models import CatalogState, Model
from modelreg.catalog.query import ModelRow, PublicModel, public_model

# Columns the public read model needs (plain rows: far cheaper than ORM objects at 100k).
PUBLIC_COLUMNS = (
    Model.id,
    Model.name,
    Model.provider,
    Model.is_available,
    Model.is_legacy,
    Model.is_archived,
    Model.meta,
    Model.created_at,
)


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
    def view(self) -> CatalogView: ...


async def load_rows(engine: AsyncEngine) -> tuple[int, list[ModelRow]]:
    """The revision and every model row from one REPEATABLE READ snapshot, so they agree."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            revision = (await conn.execute(select(CatalogState.revision))).scalar_one()
            rows = (await conn.execute(select(*PUBLIC_COLUMNS).order_by(Model.id))).all()
    return int(revision), cast(list[ModelRow], rows)


def build_view(revision: int, rows: list[ModelRow]) -> CatalogView:
    return CatalogView.of(revision, [public_model(row) for row in rows])
