"""Automatic sunset with the time injected: notices at the lead times (once each), the archive
when the date passes (as system:sunset, a `model.sunset` event), /resolve afterwards, the plan,
and one leader at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

from modelreg.cli.main import app as cli
from modelreg.config import SunsetSettings
from modelreg.db.engine import async_engine
from modelreg.db.urls import libpq_conninfo
from modelreg.events import sunset
from tests.events.receiver import Receiver, wait_for
from tests.events.test_webhooks import subscribe
from tests.fixtures.catalog import LEGACY, LEGACY_REPLACEMENT, Catalog

PAST_SUNSET = "claude-3-5-haiku"  # legacy, sunset 2026-02-19


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(url: URL, now: datetime) -> list[tuple[str, str, int | None]] | None:
    async def work() -> list[sunset.Step] | None:
        engine = async_engine(url)
        try:
            return await sunset.run_as_leader(
                async_sessionmaker(engine, expire_on_commit=False), SunsetSettings(), now
            )
        finally:
            await engine.dispose()

    done = asyncio.run(work())
    return None if done is None else [(s.model_id, s.action, s.lead_days) for s in done]


def test_the_plan_shows_each_notice_and_sunset_and_when(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(cli, ["sunset", "plan", "--at", "2026-12-01T00:00:00"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if LEGACY in line]
    assert [line.split()[1][:10] for line in lines] == ["2026-12-15", "2027-01-07", "2027-01-14"]
    assert "30 days ahead" in lines[0]
    assert "archive" in lines[2]
    assert any(PAST_SUNSET in line and "now" in line for line in result.output.splitlines())


def test_notices_go_once_per_lead_time_then_the_model_is_sunset(
    catalog: Catalog, receiver: Receiver
) -> None:
    subscribe(catalog, receiver, ["model.sunset_approaching", "model.sunset", "model.archived"])
    assert run(catalog.url, at("2026-12-16T00:00:00")) == [
        (PAST_SUNSET, "sunset", None),
        (LEGACY, "notice", 30),
    ]
    assert run(catalog.url, at("2026-12-20T00:00:00")) == []  # nothing twice
    assert run(catalog.url, at("2027-01-08T00:00:00")) == [(LEGACY, "notice", 7)]
    assert run(catalog.url, at("2027-01-13T23:59:00")) == []
    assert run(catalog.url, at("2027-01-14T00:00:00")) == [(LEGACY, "sunset", None)]

    expected = [
        (PAST_SUNSET, "model.archived"),
        (PAST_SUNSET, "model.sunset"),
        (LEGACY, "model.sunset_approaching"),
        (LEGACY, "model.sunset_approaching"),
        (LEGACY, "model.archived"),
        (LEGACY, "model.sunset"),
    ]
    wait_for(lambda: len(receiver.received) >= len(expected), what="the sunset events")
    got = [(r.body["data"]["modelId"], r.body["type"]) for r in receiver.received]
    assert got == expected
    assert receiver.bad_signatures == []
    sunset_event = receiver.received[-1].body["data"]
    assert sunset_event["actor"] == "system:sunset"
    assert sunset_event["reason"] == "sunset date 2027-01-14 passed"
    assert sunset_event["model"]["is_archived"] is True
    # The archived model still leads to its replacement.
    wait_for(lambda: catalog.client.get(f"/v1/models/{LEGACY}").status_code == 410)
    resolved = catalog.client.get(f"/v1/models/{LEGACY}/resolve")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved"] == LEGACY_REPLACEMENT


def test_only_the_holder_of_the_leader_lock_runs_the_sunset(catalog: Catalog) -> None:
    with psycopg.connect(libpq_conninfo(catalog.url), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (sunset.LEADER_LOCK,))
        assert run(catalog.url, at("2027-02-01T00:00:00")) is None
        assert catalog.model(LEGACY)["state"] == "legacy"
    assert run(catalog.url, at("2027-02-01T00:00:00")) == [
        (PAST_SUNSET, "sunset", None),
        (LEGACY, "sunset", None),
    ]
