"""A large plan (500 changes) applied at once: each change still has its own revision, audit event
and model version; a plan refused anywhere, even after its changes were written, writes
nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.catalog.models import Model
from modelreg.db.engine import async_engine
from modelreg.exceptions import ModelRegError, ValidationFailed
from modelreg.imports import service
from modelreg.imports.plan import PLAN_FORMAT
from modelreg.lifecycle.exceptions import ReplacementInvalid
from tests.fixtures.models import base_meta
from tests.imports.helpers import revision

CHANGES = 500
REASON = "weekly price sync"
ACTOR = "import:litellm"


def _bulk_id(index: int) -> str:
    return f"bulk-{index:04d}"


def _add_models(engine: Engine, count: int) -> None:
    """`count` models at version 1, written with plain SQL (quick; nothing reads their
    history here)."""
    with engine.begin() as conn:
        conn.execute(
            insert(Model),
            [
                {
                    "id": _bulk_id(i),
                    "name": f"Bulk {i}",
                    "provider": "bulklab",
                    "is_available": True,
                    "meta": base_meta(displayName=f"Bulk {i}"),
                }
                for i in range(count)
            ],
        )


def _plan(engine: Engine, **groups: list[dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "source": "litellm",
        "revision": revision(engine),
        "add": [],
        "change": [],
        "deprecate": [],
        "vanished": [],
    }
    return document | groups


def _changes(count: int) -> list[dict[str, Any]]:
    return [
        {"id": _bulk_id(i), "version": 1, "patch": {"meta": {"description": f"imported {i}"}}}
        for i in range(count)
    ]


def _apply(url: URL, document: dict[str, Any]) -> dict[str, int]:
    """Apply in a transaction of its own, as `modelreg import apply` does."""

    async def main() -> dict[str, int]:
        engine = async_engine(url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await service.apply(session, document, reason=REASON)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _counts(engine: Engine) -> tuple[int, int, int]:
    """(catalog revision, audit events, model versions)."""
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        versions = conn.execute(text("SELECT count(*) FROM model_versions")).scalar_one()
    return revision(engine), int(events), int(versions)


def test_each_change_of_a_large_plan_has_its_revision_event_and_version(
    seeded_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    _add_models(engine, CHANGES)
    start, events_before, versions_before = _counts(engine)

    counts = _apply(seeded_url, _plan(engine, change=_changes(CHANGES)))

    assert counts == {"add": 0, "change": CHANGES, "deprecate": 0, "vanished": 0}
    with engine.connect() as conn:
        models = conn.execute(
            text(
                "SELECT id, version, meta->>'description' AS description FROM models"
                " WHERE provider = 'bulklab' ORDER BY id"
            )
        ).all()
        events = conn.execute(
            text(
                "SELECT id, actor, action, model_id, model_version, catalog_revision, reason,"
                " diff FROM audit_events WHERE catalog_revision > :start ORDER BY id"
            ),
            {"start": start},
        ).all()
        versions = conn.execute(
            text(
                "SELECT model_id, version, actor, action, reason, audit_event_id,"
                " state->'meta'->>'description' AS description"
                " FROM model_versions WHERE actor = :actor ORDER BY model_id"
            ),
            {"actor": ACTOR},
        ).all()
    assert [(m.id, m.version, m.description) for m in models] == [
        (_bulk_id(i), 2, f"imported {i}") for i in range(CHANGES)
    ]

    *changed, summary = events
    assert summary.action == "catalog.imported"
    # One event per change, in the plan's order, each with a revision of its own.
    assert [(e.model_id, e.model_version, e.action) for e in changed] == [
        (_bulk_id(i), 2, "update") for i in range(CHANGES)
    ]
    assert [e.catalog_revision for e in events] == list(range(start + 1, start + CHANGES + 2))
    assert {(e.actor, e.reason) for e in events} == {(ACTOR, REASON)}
    assert all(
        {"path": "meta.description", "after": f"imported {i}"} in e.diff
        for i, e in enumerate(changed)
    )

    # One version per change, pointing at its own event.
    event_of = {e.model_id: e.id for e in changed}
    assert [(v.model_id, v.version, v.description) for v in versions] == [
        (_bulk_id(i), 2, f"imported {i}") for i in range(CHANGES)
    ]
    assert all(v.audit_event_id == event_of[v.model_id] for v in versions)
    assert {(v.action, v.reason) for v in versions} == {("update", REASON)}
    assert _counts(engine) == (
        start + CHANGES + 1,
        events_before + CHANGES + 1,
        versions_before + CHANGES,
    )


@pytest.mark.parametrize("where", ["a change in the middle", "a deprecation after the changes"])
def test_a_large_plan_refused_anywhere_writes_nothing(
    seeded_url: URL, engine_for: Callable[[URL], Engine], where: str
) -> None:
    engine = engine_for(seeded_url)
    _add_models(engine, CHANGES + 1)
    changes = _changes(CHANGES)
    expected: type[ModelRegError]
    if where == "a change in the middle":
        changes[CHANGES // 2]["patch"] = {"meta": {"contextLength": "long"}}
        document = _plan(engine, change=changes)
        expected = ValidationFailed
    else:
        # Refused only once every change is written and recorded: the transaction undoes them.
        last = {"id": _bulk_id(CHANGES), "version": 1, "replacement": "no-such-model"}
        document = _plan(engine, change=changes, deprecate=[last])
        expected = ReplacementInvalid
    before = _counts(engine)

    with pytest.raises(expected):
        _apply(seeded_url, document)

    assert _counts(engine) == before
    with engine.connect() as conn:
        touched = conn.execute(
            text("SELECT count(*) FROM models WHERE provider = 'bulklab' AND version <> 1")
        ).scalar_one()
    assert touched == 0


def test_the_price_changes_of_a_large_plan_enter_the_price_history(
    seeded_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    """Changes applied together keep the price history as a change made alone does: an entry
    per change of prices, in force from the apply, by the import, pointing at its event; none
    for a change that leaves prices alone."""
    engine = engine_for(seeded_url)
    count = 40
    _add_models(engine, count)
    # A first plan: the rows written with SQL get their credits filled in (a change of prices).
    _apply(seeded_url, _plan(engine, change=_changes(count)))
    start = revision(engine)
    changes = [
        {
            "id": _bulk_id(i),
            "version": 2,
            "patch": {"meta": {"inputCostUsdPerMillionTokens": Decimal(f"{i + 1}.25")}}
            if i % 2 == 0
            else {"meta": {"description": f"imported again {i}"}},
        }
        for i in range(count)
    ]

    _apply(seeded_url, _plan(engine, change=changes))

    with engine.connect() as conn:
        entries = conn.execute(
            text(
                "SELECT p.model_id, p.input_usd, p.recorded_by, p.scheduled, e.model_id AS of,"
                " e.action FROM model_prices p JOIN audit_events e ON e.id = p.audit_event_id"
                " WHERE e.catalog_revision > :start ORDER BY p.model_id"
            ),
            {"start": start},
        ).all()
    assert [(e.model_id, str(e.input_usd)) for e in entries] == [
        (_bulk_id(i), f"{i + 1}.25") for i in range(0, count, 2)
    ]
    assert {(e.recorded_by, e.scheduled, e.action) for e in entries} == {(ACTOR, False, "update")}
    assert all(e.of == e.model_id for e in entries)
