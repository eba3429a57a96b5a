"""Where the public API reads the catalog from: a view of every model at one revision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, cast

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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

    def updated(self, revision: int, changed: list[PublicModel]) -> CatalogView:
        """This view with `changed` models replaced or added."""
        by_id = dict(self.by_id)
        for model in changed:
            by_id[model.id] = model
        ordered = tuple(by_id[key] for key in sorted(by_id))
        return CatalogView(revision=revision, models=ordered, by_id=by_id)


class CatalogReader(Protocol):
    def view(self) -> CatalogView: ...


async def read_catalog(conn: AsyncConnection) -> tuple[int, list[ModelRow]]:
    """The revision and every model row, in the caller's transaction."""
    revision = (await conn.execute(select(CatalogState.revision))).scalar_one()
    rows = (await conn.execute(select(*PUBLIC_COLUMNS).order_by(Model.id))).all()
    return int(revision), cast(list[ModelRow], rows)


def build_view(revision: int, rows: list[ModelRow]) -> CatalogView:
    return CatalogView.of(revision, [public_model(row) for row in rows])


@dataclass(frozen=True)
class Delta:
    """What changed after a revision: the new revision, its changes and the changed rows."""

    revision: int
    changes: list[tuple[int, str]]
    rows: list[ModelRow]


async def load_delta(engine: AsyncEngine, since: int) -> Delta | None:
    """The rows changed after revision `since`, read in one snapshot; None when the changes
    cannot all be accounted for (a revision without its audit event: an edit made with plain
    SQL, a token change) and the whole catalog must be read instead."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            revision = int((await conn.execute(select(CatalogState.revision))).scalar_one())
            if revision == since:
                return Delta(revision, [], [])
            changes = [
                (int(r[0]), str(r[1]))
                for r in await conn.execute(
                    text(
                        "SELECT catalog_revision, model_id FROM audit_events"
                        " WHERE catalog_revision > :since AND catalog_revision <= :until"
                        " ORDER BY catalog_revision"
                    ),
                    {"since": since, "until": revision},
                )
            ]
            if len({rev for rev, _ in changes}) != revision - since:
                return None
            ids = sorted({model_id for _, model_id in changes})
            rows = (await conn.execute(select(*PUBLIC_COLUMNS).where(Model.id.in_(ids)))).all()
    return Delta(revision, changes, cast(list[ModelRow], rows))
