"""A scheduled price taking effect sends `model.price_changed` (and `model.updated`) as
`system:price-schedule`, once, with the diff of the prices; scheduling and cancelling send
nothing. The time is injected."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.config import PriceScheduleSettings
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from modelreg.events import prices
from tests.events.receiver import Receiver, wait_for
from tests.events.test_webhooks import subscribe
from tests.fixtures.catalog import ACTIVE, Catalog


def exact(value: object) -> Decimal:
    """A number as the receiver parsed it (a float), read back as the decimal it was sent."""
    return Decimal(str(value))


def run(catalog: Catalog, now: datetime) -> list[str] | None:
    async def work() -> list[str] | None:
        engine = async_engine(catalog.url)
        try:
            return await prices.run_as_leader(
                async_sessionmaker(engine, expire_on_commit=False), now
            )
        finally:
            await engine.dispose()

    return asyncio.run(work())


def schedule(catalog: Catalog, model_id: str, body: dict[str, object]) -> dict[str, object]:
    response = catalog.client.post(
        f"/admin/v1/models/{model_id}/prices",
        content=jsonb.dumps(body),
        headers={**catalog.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_scheduled_price_sends_price_changed_when_it_takes_effect(
    catalog: Catalog, receiver: Receiver
) -> None:
    subscribe(catalog, receiver, ["model.price_changed", "model.updated"])
    before = catalog.model(ACTIVE)["meta"]["inputCostUsdPerMillionTokens"]
    boundary = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    schedule(
        catalog,
        ACTIVE,
        {"effectiveFrom": boundary.isoformat(), "inputCostUsdPerMillionTokens": Decimal("4.4")},
    )
    cancelled = schedule(
        catalog,
        ACTIVE,
        {
            "effectiveFrom": (boundary + timedelta(days=1)).isoformat(),
            "inputCostUsdPerMillionTokens": 99,
        },
    )
    response = catalog.client.delete(
        f"/admin/v1/models/{ACTIVE}/prices/{cancelled['id']}", headers=catalog.headers()
    )
    assert response.status_code == 200, response.text
    assert run(catalog, boundary - timedelta(seconds=1)) == []
    assert run(catalog, boundary) == [ACTIVE]
    assert run(catalog, boundary + timedelta(days=2)) == []  # the cancelled one: never

    wait_for(lambda: len(receiver.received) >= 2, what="the price events")
    got = [(r.body["type"], r.body["data"]["modelId"]) for r in receiver.received]
    assert got == [("model.updated", ACTIVE), ("model.price_changed", ACTIVE)]
    assert receiver.bad_signatures == []
    data = receiver.received[1].body["data"]
    assert data["actor"] == "system:price-schedule"
    assert boundary.isoformat() in data["reason"]
    assert exact(data["model"]["meta"]["inputCostUsdPerMillionTokens"]) == Decimal("4.4")
    changed = {c["path"]: c for c in data["diff"]}
    assert exact(changed["meta.inputCostUsdPerMillionTokens"]["before"]) == exact(before)
    assert exact(changed["meta.inputCostUsdPerMillionTokens"]["after"]) == Decimal("4.4")
    assert "meta.inputCreditsPer1kTokens" in changed
    assert exact(catalog.model(ACTIVE)["meta"]["inputCostUsdPerMillionTokens"]) == Decimal("4.4")


def test_a_reload_wakes_the_scheduler_only_for_a_sooner_boundary() -> None:
    """Every write reloads the snapshot; the scheduler wakes only when the snapshot knows a
    boundary before its next planned run (a change of any other kind costs it nothing)."""
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    scheduler = prices.PriceScheduler(
        async_sessionmaker(), PriceScheduleSettings(check_interval_s=3600), clock=lambda: now
    )
    scheduler._planned = (now + timedelta(hours=1)).timestamp()

    scheduler.wake_for(None)
    scheduler.wake_for((now + timedelta(hours=2)).timestamp())
    assert not scheduler._wake.is_set()

    scheduler.wake_for((now + timedelta(minutes=5)).timestamp())
    assert scheduler._wake.is_set()
