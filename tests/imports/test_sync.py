"""The scheduled sync: the safe part applied (or only a plan kept for review), under an advisory
lock that lets one instance run at a time; every run in the audit log and the metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.config import get_settings
from modelreg.db.engine import async_engine
from modelreg.db.urls import libpq_conninfo
from modelreg.imports.sync import LOCK_KEY, run_once
from tests.imports.helpers import DATA, events, model

LITELLM = str(DATA / "litellm.json")


def _configure(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv(
        "MODELREG_SYNC__SOURCES", json.dumps([{"source": "litellm", "url": LITELLM}])
    )
    monkeypatch.setenv("MODELREG_SYNC__MODE", mode)
    get_settings.cache_clear()


def _run(url: URL) -> dict[str, str] | None:
    async def main() -> dict[str, str] | None:
        engine = async_engine(url)
        try:
            return await run_once(engine, fetch=lambda path: Path(path).read_bytes())
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _runs(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "modelreg_import_sync_runs_total", {"source": "litellm", "result": result}
    )
    return value or 0.0


def _plans(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT created_by, plan::text AS plan FROM import_plans"))
        return [{"created_by": r.created_by, **json.loads(r.plan)} for r in rows]


def test_apply_safe_applies_small_price_changes_and_deprecations_only(
    seeded_url: URL, monkeypatch: pytest.MonkeyPatch, engine_for: Callable[[URL], Engine]
) -> None:
    _configure(monkeypatch, "apply-safe")
    engine = engine_for(seeded_url)
    before = _runs("applied")
    assert _run(seeded_url) == {LITELLM: "applied"}
    assert _runs("applied") == before + 1

    mini = model(engine, "gpt-5-mini")
    assert mini is not None
    assert mini["meta"]["inputCostUsdPerMillionTokens"] == Decimal("0.3")  # +20 %: applied
    gpt41 = model(engine, "gpt-4.1")
    assert gpt41 is not None
    assert gpt41["meta"]["outputCostUsdPerMillionTokens"] == 8  # +100 %: left for review
    o3 = model(engine, "o3")
    assert o3 is not None
    assert (o3["is_legacy"], o3["meta"]["sunsetDate"]) == (True, "2027-03-01")
    sonnet = model(engine, "claude-sonnet-4-5")
    assert sonnet is not None
    assert "structured_output" not in sonnet["meta"]["capabilities"]  # not a safe change
    assert model(engine, "acme-chat-1") is None  # new models wait for review

    [kept] = _plans(engine)
    assert kept["created_by"] == "sync"
    assert {i["id"] for i in kept["change"]} == {"gpt-4.1", "claude-sonnet-4-5"}
    assert {i["id"] for i in kept["add"]} == {"acme-chat-1", "acme-free"}
    assert kept["deprecate"] == []

    [run] = events(engine, "import.sync")
    assert run["actor"] == "import:litellm"
    assert run["after"]["result"] == "applied"
    assert run["after"]["applied"] == {"add": 0, "change": 1, "deprecate": 2, "vanished": 0}


def test_review_mode_only_keeps_the_plan(
    seeded_url: URL, monkeypatch: pytest.MonkeyPatch, engine_for: Callable[[URL], Engine]
) -> None:
    _configure(monkeypatch, "review")
    engine = engine_for(seeded_url)
    assert _run(seeded_url) == {LITELLM: "review"}
    mini = model(engine, "gpt-5-mini")
    assert mini is not None
    assert mini["version"] == 1
    [kept] = _plans(engine)
    assert {i["id"] for i in kept["deprecate"]} == {"o3", "o4-mini"}
    assert events(engine, "import.sync")[0]["after"]["result"] == "review"


def test_an_instance_without_the_lock_skips_the_run(
    seeded_url: URL, monkeypatch: pytest.MonkeyPatch, engine_for: Callable[[URL], Engine]
) -> None:
    _configure(monkeypatch, "apply-safe")
    engine = engine_for(seeded_url)
    with psycopg.connect(libpq_conninfo(seeded_url), autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone() == (True,)
        assert _run(seeded_url) is None
    mini = model(engine, "gpt-5-mini")
    assert mini is not None
    assert mini["version"] == 1
    assert events(engine, "import.sync") == []
    # the lock released, the next run goes ahead
    assert _run(seeded_url) == {LITELLM: "applied"}
