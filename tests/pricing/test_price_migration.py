"""0012_price_schedule rebuilds every model's price history from its versions: after a round
trip (downgrade, upgrade) the history is the one the catalog wrote as it went, and a price
changed with plain SQL gets its own entry."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.catalog import prices, service
from modelreg.db import migrate
from modelreg.db.engine import async_engine, sync_engine
from modelreg.db.exceptions import DowngradeWouldLoseData
from tests.fixtures.databases import Clones

HISTORY = """
SELECT model_id, effective_from, input_usd, output_usd, credits_per_1k, input_credits_per_1k,
       output_credits_per_1k, credits_pinned, recorded_by, reason, audit_event_id
FROM model_prices ORDER BY model_id, effective_from, id
"""


def history(url: URL) -> list[tuple[Any, ...]]:
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(HISTORY))]
    finally:
        engine.dispose()


def change_prices(url: URL) -> None:
    async def work() -> None:
        engine = async_engine(url)
        try:
            for meta, reason in (
                ({"inputCostUsdPerMillionTokens": Decimal("0.7")}, "cheaper"),
                ({"outputCostUsdPerMillionTokens": Decimal("8.8")}, "dearer"),
            ):
                async with AsyncSession(engine) as session, session.begin():
                    await service.patch_model(
                        session,
                        "o3",
                        {"meta": meta},
                        Actor("pricing"),
                        if_match=None,
                        reason=reason,
                    )
            async with AsyncSession(engine) as session, session.begin():
                await service.patch_model(
                    session,
                    "o3",
                    {"name": "o3 renamed"},
                    Actor("pricing"),
                    if_match=None,
                    reason=None,
                )
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_the_backfill_rebuilds_the_history_the_catalog_wrote(clones: Clones) -> None:
    seeded = clones.take()
    try:
        change_prices(seeded.url)
        written = history(seeded.url)
        o3 = [row for row in written if row[0] == "o3"]
        assert [row[9] for row in o3] == [o3[0][9], "cheaper", "dearer"]
        assert {row[8] for row in o3[1:]} == {"pricing"}

        migrate.downgrade(seeded.url, "0011_webhooks")
        migrate.upgrade(seeded.url, "head")
        assert history(seeded.url) == written

        # A price changed with plain SQL (no version): an entry of its own, by the migration.
        engine = sync_engine(seeded.url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE models SET meta = meta || '{\"inputCostUsdPerMillionTokens\": 0.9}'"
                        " WHERE id = 'o3'"
                    )
                )
        finally:
            engine.dispose()
        migrate.downgrade(seeded.url, "0011_webhooks")
        migrate.upgrade(seeded.url, "head")
        rebuilt = [row for row in history(seeded.url) if row[0] == "o3"]
        assert len(rebuilt) == 4
        assert rebuilt[-1][2] == Decimal("0.9")
        assert rebuilt[-1][8] == "system:migration"
    finally:
        clones.done(seeded)


def test_a_downgrade_keeps_a_scheduled_price_until_it_is_cancelled(clones: Clones) -> None:
    """A price scheduled and not yet in force exists nowhere but `model_prices`: the downgrade
    below 0012 refuses, changing nothing, until it is cancelled."""
    seeded = clones.take()
    try:

        async def schedule() -> int:
            engine = async_engine(seeded.url)
            try:
                async with AsyncSession(engine) as session, session.begin():
                    entry = await prices.schedule_price(
                        session,
                        "o3",
                        {
                            "effectiveFrom": "2099-01-01T00:00:00Z",
                            "inputCostUsdPerMillionTokens": Decimal("0.4"),
                        },
                        Actor("pricing"),
                    )
                    return int(entry["id"])
            finally:
                await engine.dispose()

        async def cancel(entry_id: int) -> None:
            engine = async_engine(seeded.url)
            try:
                async with AsyncSession(engine) as session, session.begin():
                    await prices.cancel_price(session, "o3", entry_id, Actor("pricing"))
            finally:
                await engine.dispose()

        entry_id = asyncio.run(schedule())
        before = history(seeded.url)

        with pytest.raises(DowngradeWouldLoseData, match="not yet in force"):
            migrate.downgrade(seeded.url, "0011_webhooks")
        assert migrate.current_revision(seeded.url) == "0012_price_schedule"
        assert history(seeded.url) == before

        asyncio.run(cancel(entry_id))
        migrate.downgrade(seeded.url, "0011_webhooks")
        assert migrate.current_revision(seeded.url) == "0011_webhooks"
    finally:
        clones.done(seeded)
