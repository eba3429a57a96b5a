"""Dated prices with the time injected ("time travel"): a price scheduled for later is served by
every instance from its boundary on, before and after the scheduler writes it; the price
history says who recorded what, from when; an estimate at a past moment charges the price then;
refused requests name their field and write nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.app import create_app
from modelreg.auth.roles import Role
from modelreg.db import jsonb
from modelreg.db.engine import async_engine, sync_engine
from modelreg.events import prices as price_schedule
from tests.fixtures.databases import Clones
from tests.fixtures.http import bearer
from tests.fixtures.waiting import poll

MODEL = "o3"  # active, available: served on /v1
QUIET = {
    "MODELREG_PRICES__ENABLED": "false",  # the tests run the scheduler themselves
    "MODELREG_SUNSET__ENABLED": "false",
    "MODELREG_SNAPSHOT__POLL_INTERVAL_S": "0.2",
    "MODELREG_LOG_REQUESTS": "false",
}


class Clock:
    """An instance's time, set by the test (epoch seconds)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now.timestamp()


@dataclass
class Instances:
    """Two instances over one fresh copy of the seeded catalog, each with an injected clock."""

    a: TestClient
    b: TestClient
    clock_a: Clock
    clock_b: Clock
    url: URL
    tokens: dict[Role, str]

    def travel(self, moment: datetime) -> None:
        self.clock_a.now = moment
        self.clock_b.now = moment

    def schedule(self, model_id: str, body: dict[str, Any]) -> httpx2.Response:
        return self.a.post(
            f"/admin/v1/models/{model_id}/prices",
            content=jsonb.dumps(body),
            headers={**bearer(self.tokens[Role.EDITOR]), "Content-Type": "application/json"},
        )

    def history(self, model_id: str) -> list[dict[str, Any]]:
        response = self.a.get(
            f"/admin/v1/models/{model_id}/prices", headers=bearer(self.tokens[Role.VIEWER])
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = sync_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params).all())
        finally:
            engine.dispose()

    def trail(self) -> tuple[int, int, int, int]:
        """(audit events, versions, revision, price entries): what a write moves."""
        row = self.sql(
            "SELECT (SELECT count(*) FROM audit_events), (SELECT count(*) FROM model_versions),"
            " (SELECT revision FROM catalog_state), (SELECT count(*) FROM model_prices)"
        )[0]
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def run_scheduler(self, now: datetime) -> list[str] | None:
        async def work() -> list[str] | None:
            engine = async_engine(self.url)
            try:
                return await price_schedule.run_as_leader(
                    async_sessionmaker(engine, expire_on_commit=False), now
                )
            finally:
                await engine.dispose()

        return asyncio.run(work())


@pytest.fixture
def instances(
    clones: Clones, use_database: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Instances]:
    for key, value in QUIET.items():
        monkeypatch.setenv(key, value)
    seeded = clones.take()
    use_database(seeded.url)
    start = datetime.now(UTC)
    clock_a, clock_b = Clock(start), Clock(start)
    try:
        with ExitStack() as stack:
            apps = []
            for clock in (clock_a, clock_b):
                app = create_app()
                app.state.snapshot.clock = clock
                apps.append(stack.enter_context(TestClient(app)))
            yield Instances(apps[0], apps[1], clock_a, clock_b, seeded.url, dict(seeded.tokens))
    finally:
        clones.done(seeded)


def public(client: TestClient, model_id: str = MODEL) -> httpx2.Response:
    response = client.get(f"/v1/models/{model_id}")
    assert response.status_code == 200, response.text
    return response


def listed(client: TestClient, model_id: str = MODEL) -> dict[str, Any]:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return next(m for m in response.json()["data"] if m["id"] == model_id)


def estimate(client: TestClient, model_id: str = MODEL, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/models/{model_id}/estimate", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def later(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def test_a_scheduled_price_turns_over_at_its_boundary_on_every_instance(
    instances: Instances,
) -> None:
    before = public(instances.a).json()
    old_input = Decimal(str(before["pricing"]["input"]))
    boundary = later(1)
    response = instances.schedule(
        MODEL,
        {
            "effectiveFrom": boundary.isoformat(),
            "inputCostUsdPerMillionTokens": Decimal("1.25"),
            "outputCostUsdPerMillionTokens": Decimal("5"),
            "reason": "new list price",
        },
    )
    assert response.status_code == 201, response.text
    scheduled = response.json()
    # Credits computed from the prices (0.001 USD a credit): (1.25 + 5) / 2.
    assert Decimal(str(scheduled["creditsPer1kTokens"])) == Decimal("3.125")
    assert scheduled["status"] == "scheduled"

    # Both instances announce the change, and still charge the old price.
    for client in (instances.a, instances.b):
        body = poll(
            lambda c=client: public(c).json(),  # type: ignore[misc]
            lambda b: b["next_price_change"] is not None,
        )
        assert body["next_price_change"]["effective_from"] == boundary.isoformat()
        assert body["next_price_change"]["pricing"]["input"] == Decimal("1.25")
        assert body["next_price_change"]["credits"]["per_1k_tokens"] == Decimal("3.125")
        assert Decimal(str(body["pricing"]["input"])) == old_input
    # A list for a tier: the tier's credits spliced into the model's bytes, the change kept.
    for_tier = instances.a.get("/v1/models", params={"tier": "pro_max"}).json()["data"]
    item = next(m for m in for_tier if m["id"] == MODEL)
    assert item["credits"]["tier"] == "pro_max"
    assert "access" in item
    assert item["next_price_change"]["effective_from"] == boundary.isoformat()
    revision = instances.trail()[2]
    etag_before = public(instances.b).headers["etag"]
    assert etag_before == f'"{revision}"'

    # A moment before the boundary: the old price.
    instances.travel(boundary - timedelta(milliseconds=1))
    for client in (instances.a, instances.b):
        assert Decimal(str(public(client).json()["pricing"]["input"])) == old_input
        assert Decimal(str(listed(client)["pricing"]["input"])) == old_input

    # At the boundary, with nothing written to the database: the new price everywhere, on the
    # fast path and the routes, with an ETag of its own (a client's copy is not "fresh").
    instances.travel(boundary)
    for client in (instances.a, instances.b):
        served = public(client)
        assert served.json()["pricing"] == {
            "unit": "USD per 1M tokens",
            "input": Decimal("1.25"),
            "output": Decimal("5"),
        }
        assert served.json()["credits"]["per_1k_tokens"] == Decimal("3.125")
        assert served.json()["next_price_change"] is None
        assert served.headers["etag"] != etag_before
        assert (
            client.get(f"/v1/models/{MODEL}", headers={"If-None-Match": etag_before}).status_code
            == 200
        )
        assert listed(client)["pricing"]["input"] == Decimal("1.25")
        assert listed(client)["credits"]["per_1k_tokens"] == Decimal("3.125")
        assert estimate(client, input_tokens=1_000_000, output_tokens=0)["usd"] == Decimal("1.25")
    assert instances.trail()[2] == revision
    stored = instances.sql(
        "SELECT meta->>'inputCostUsdPerMillionTokens' FROM models WHERE id = :id", id=MODEL
    )
    assert Decimal(stored[0][0]) == old_input  # served from the schedule, not yet written

    # The scheduler writes it, as system:price-schedule: a new revision, both converge on it.
    assert instances.run_scheduler(boundary - timedelta(seconds=1)) == []
    assert instances.run_scheduler(boundary) == [MODEL]
    assert instances.run_scheduler(boundary + timedelta(seconds=5)) == []  # once
    events = instances.sql(
        "SELECT actor, action, reason FROM audit_events WHERE model_id = :id ORDER BY id DESC"
        " LIMIT 1",
        id=MODEL,
    )
    assert events[0][0] == "system:price-schedule"
    assert events[0][1] == "update"
    assert boundary.isoformat() in events[0][2]
    new_revision = instances.trail()[2]
    assert new_revision == revision + 1
    for client in (instances.a, instances.b):
        served = poll(
            lambda c=client: public(c),  # type: ignore[misc]
            lambda r: r.headers["etag"] == f'"{new_revision}"',
        )
        assert served.headers["etag"] == f'"{new_revision}"'
        assert served.json()["pricing"]["input"] == Decimal("1.25")
        assert served.json()["next_price_change"] is None


def test_the_history_says_what_from_when_by_whom(instances: Instances) -> None:
    first = instances.history(MODEL)
    assert len(first) == 1
    assert first[0]["status"] == "current"
    assert first[0]["recordedBy"]  # the seed
    boundary = later(2)
    made = instances.schedule(
        MODEL, {"effectiveFrom": boundary.isoformat(), "outputCostUsdPerMillionTokens": 9}
    )
    assert made.status_code == 201, made.text
    history = instances.history(MODEL)
    assert [entry["status"] for entry in history] == ["current", "scheduled"]
    scheduled = history[1]
    actor = instances.sql(
        "SELECT actor FROM audit_events WHERE id = :id", id=scheduled["auditEventId"]
    )[0][0]
    assert scheduled["recordedBy"] == actor
    assert actor != "system:price-schedule"
    assert scheduled["effectiveFrom"] == boundary.isoformat()
    # A field not given keeps the value in force before: the input price.
    assert scheduled["inputCostUsdPerMillionTokens"] == first[0]["inputCostUsdPerMillionTokens"]
    assert scheduled["outputCostUsdPerMillionTokens"] == 9
    # An immediate change enters the history too, by its author.
    patched = instances.a.patch(
        f"/admin/v1/models/{MODEL}",
        content=jsonb.dumps({"meta": {"inputCostUsdPerMillionTokens": Decimal("0.75")}}),
        headers={
            **bearer(instances.tokens[Role.EDITOR]),
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert patched.status_code == 200, patched.text
    history = instances.history(MODEL)
    assert [entry["status"] for entry in history] == ["past", "current", "scheduled"]
    assert history[1]["inputCostUsdPerMillionTokens"] == Decimal("0.75")
    assert history[1]["recordedBy"] == actor
    # A change that leaves the prices alone adds nothing.
    renamed = instances.a.patch(
        f"/admin/v1/models/{MODEL}",
        content=jsonb.dumps({"name": "renamed"}),
        headers={
            **bearer(instances.tokens[Role.EDITOR]),
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert renamed.status_code == 200, renamed.text
    assert len(instances.history(MODEL)) == 3


def test_an_estimate_at_yesterday_charges_yesterdays_price(instances: Instances) -> None:
    boundary = later(1)
    yesterday = boundary - timedelta(minutes=30)
    instances.travel(yesterday)
    charged_then = estimate(instances.b, input_tokens=123_456, output_tokens=7_890, tier="pro")
    made = instances.schedule(
        MODEL,
        {
            "effectiveFrom": boundary.isoformat(),
            "inputCostUsdPerMillionTokens": Decimal("3.3"),
            "outputCostUsdPerMillionTokens": Decimal("13.2"),
        },
    )
    assert made.status_code == 201, made.text
    assert instances.run_scheduler(boundary) == [MODEL]
    instances.travel(boundary + timedelta(days=1))
    served = poll(
        lambda: public(instances.b).json()["pricing"]["input"],
        lambda v: Decimal(str(v)) == Decimal("3.3"),
    )
    assert Decimal(str(served)) == Decimal("3.3")

    today = estimate(instances.b, input_tokens=123_456, output_tokens=7_890, tier="pro")
    assert today["credits"] != charged_then["credits"]
    again = estimate(
        instances.b,
        input_tokens=123_456,
        output_tokens=7_890,
        tier="pro",
        at=yesterday.isoformat(),
    )
    for key in ("credits", "usd", "breakdown"):
        assert again[key] == charged_then[key]
    assert again["at"] == yesterday.isoformat()
    # From the boundary on, the new price; an `at` without an offset is UTC.
    at_boundary = estimate(
        instances.b,
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        at=boundary.replace(tzinfo=None).isoformat(),
    )
    assert at_boundary["usd"] == Decimal("16.5")
    # Before the model had any price: refused, naming `at`.
    refused = instances.b.post(
        f"/v1/models/{MODEL}/estimate",
        json={"input_tokens": 1, "output_tokens": 1, "at": "2001-01-01T00:00:00Z"},
    )
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["at"]
    bad = instances.b.post(
        f"/v1/models/{MODEL}/estimate",
        json={"input_tokens": 1, "output_tokens": 1, "at": "yesterday"},
    )
    assert bad.status_code == 422, bad.text
    assert [e["path"] for e in bad.json()["errors"]] == ["at"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"inputCostUsdPerMillionTokens": 1}, "effectiveFrom"),
        (
            {"effectiveFrom": "2001-01-01T00:00:00Z", "inputCostUsdPerMillionTokens": 1},
            "effectiveFrom",
        ),
        ({"effectiveFrom": "soon", "inputCostUsdPerMillionTokens": 1}, "effectiveFrom"),
        (
            {"effectiveFrom": "FUTURE", "inputCostUsdPerMillionTokens": -1},
            "inputCostUsdPerMillionTokens",
        ),
        (
            {"effectiveFrom": "FUTURE", "outputCostUsdPerMillionTokens": "2"},
            "outputCostUsdPerMillionTokens",
        ),
        ({"effectiveFrom": "FUTURE", "creditsPer1kTokens": -3}, "creditsPer1kTokens"),
        ({"effectiveFrom": "FUTURE"}, "$"),
        (
            {"effectiveFrom": "FUTURE", "inputCostUsdPerMillionTokens": 1, "displayName": "x"},
            "displayName",
        ),
    ],
)
def test_a_refused_schedule_names_its_field_and_writes_nothing(
    instances: Instances, body: dict[str, Any], path: str
) -> None:
    if body.get("effectiveFrom") == "FUTURE":
        body = {**body, "effectiveFrom": later(1).isoformat()}
    trail = instances.trail()
    response = instances.schedule(MODEL, body)
    assert response.status_code == 422, response.text
    assert path in [e["path"] for e in response.json()["errors"]]
    assert instances.trail() == trail
    assert public(instances.a).json()["next_price_change"] is None


def test_only_an_editor_schedules_and_an_unknown_model_is_not_found(instances: Instances) -> None:
    body = {"effectiveFrom": later(1).isoformat(), "inputCostUsdPerMillionTokens": 1}
    viewer = instances.a.post(
        f"/admin/v1/models/{MODEL}/prices",
        content=jsonb.dumps(body),
        headers={**bearer(instances.tokens[Role.VIEWER]), "Content-Type": "application/json"},
    )
    assert viewer.status_code == 403, viewer.text
    assert instances.schedule("no-such-model", body).status_code == 404


def test_a_cancelled_price_never_takes_effect(instances: Instances) -> None:
    boundary = later(1)
    made = instances.schedule(
        MODEL, {"effectiveFrom": boundary.isoformat(), "inputCostUsdPerMillionTokens": 42}
    )
    assert made.status_code == 201, made.text
    entry = made.json()["id"]
    poll(lambda: public(instances.b).json()["next_price_change"], lambda v: v is not None)
    editor = bearer(instances.tokens[Role.EDITOR])
    cancelled = instances.a.delete(
        f"/admin/v1/models/{MODEL}/prices/{entry}", params={"reason": "mistake"}, headers=editor
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = instances.a.delete(f"/admin/v1/models/{MODEL}/prices/{entry}", headers=editor)
    assert again.status_code == 409, again.text
    missing = instances.a.delete(f"/admin/v1/models/{MODEL}/prices/999999", headers=editor)
    assert missing.status_code == 404, missing.text
    body = poll(lambda: public(instances.b).json(), lambda b: b["next_price_change"] is None)
    assert body["next_price_change"] is None
    instances.travel(boundary + timedelta(seconds=1))
    assert public(instances.b).json()["pricing"]["input"] != 42
    assert instances.run_scheduler(boundary + timedelta(seconds=1)) == []
    assert [e["status"] for e in instances.history(MODEL)] == ["current", "cancelled"]
    actions = [
        row[0]
        for row in instances.sql(
            "SELECT action FROM audit_events WHERE model_id = :id ORDER BY id", id=MODEL
        )
    ]
    assert actions[-2:] == ["schedule_price", "cancel_price"]


def test_a_price_in_force_cannot_be_cancelled(instances: Instances) -> None:
    current = instances.history(MODEL)[0]
    response = instances.a.delete(
        f"/admin/v1/models/{MODEL}/prices/{current['id']}",
        headers=bearer(instances.tokens[Role.EDITOR]),
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "price_already_effective"


def test_only_the_holder_of_the_leader_lock_applies_scheduled_prices(
    instances: Instances,
) -> None:
    import psycopg

    from modelreg.db.urls import libpq_conninfo

    boundary = later(1)
    made = instances.schedule(
        MODEL, {"effectiveFrom": boundary.isoformat(), "inputCostUsdPerMillionTokens": 7}
    )
    assert made.status_code == 201, made.text
    with psycopg.connect(libpq_conninfo(instances.url), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (price_schedule.LEADER_LOCK,))
        assert instances.run_scheduler(boundary) is None
    assert instances.run_scheduler(boundary) == [MODEL]


def test_a_change_made_after_the_boundary_stays_in_force(instances: Instances) -> None:
    boundary = later(1)
    made = instances.schedule(
        MODEL, {"effectiveFrom": boundary.isoformat(), "inputCostUsdPerMillionTokens": 11}
    )
    assert made.status_code == 201, made.text
    # A change recorded after the boundary, before the scheduler ran (as a PATCH would make
    # it then): the later entry is the one in force.
    engine = sync_engine(instances.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO model_prices (model_id, effective_from, input_usd, output_usd,"
                    " credits_per_1k, input_credits_per_1k, output_credits_per_1k,"
                    " recorded_by) VALUES (:id, :at, 12, 12, 12, 12, 12, 'by hand')"
                ),
                {"id": MODEL, "at": boundary + timedelta(minutes=1)},
            )
    finally:
        engine.dispose()
    assert instances.run_scheduler(boundary + timedelta(minutes=2)) == []
    stored = instances.sql(
        "SELECT meta->>'inputCostUsdPerMillionTokens' FROM models WHERE id = :id", id=MODEL
    )
    assert Decimal(stored[0][0]) != 11
    applied = instances.sql(
        "SELECT applied_at FROM model_prices WHERE id = :id", id=made.json()["id"]
    )
    assert applied[0][0] == boundary + timedelta(minutes=2)
    # Cancelling it now is refused: its time has come.
    late = instances.a.delete(
        f"/admin/v1/models/{MODEL}/prices/{made.json()['id']}",
        headers=bearer(instances.tokens[Role.EDITOR]),
    )
    assert late.status_code == 409, late.text
