"""Every committed change is announced on the `modelreg_catalog` channel; nothing else is."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.catalog import service
from modelreg.db.engine import async_engine
from modelreg.db.urls import libpq_conninfo
from tests.fixtures.catalog import ACTIVE, OTHER_ACTIVE, Catalog
from tests.fixtures.http import problem

CHANNEL = "modelreg_catalog"


@pytest.fixture
def listener(catalog: Catalog) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A separate connection listening on the channel (autocommit: LISTEN takes effect now)."""
    with psycopg.connect(libpq_conninfo(catalog.url), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield conn


def received(conn: psycopg.Connection[tuple[object, ...]], timeout: float) -> list[psycopg.Notify]:
    return list(conn.notifies(timeout=timeout))


def names(payload: str, revision: int, model_id: str) -> bool:
    """The payload is `<revision>:<model id>` (anything after a further colon is extra)."""
    return payload == f"{revision}:{model_id}" or payload.startswith(f"{revision}:{model_id}:")


def test_refused_change_is_not_notified(
    catalog: Catalog, listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    response = catalog.patch(ACTIVE, {"meta": {"contextLength": -1}})
    problem(response, 422, "validation_error")

    assert received(listener, timeout=1) == []


def test_committed_change_is_notified_with_its_revision_and_model(
    catalog: Catalog, listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})

    notes = list(listener.notifies(timeout=5, stop_after=1))

    assert len(notes) == 1
    assert notes[0].channel == CHANNEL
    assert names(notes[0].payload, catalog.revision(), ACTIVE), notes[0].payload


def test_each_committed_change_is_notified_once(
    catalog: Catalog, listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    start = catalog.revision()
    catalog.act_ok(ACTIVE, "archive")
    catalog.act_ok(OTHER_ACTIVE, "mark_legacy")

    notes = list(listener.notifies(timeout=5, stop_after=2))
    notes += received(listener, timeout=0.3)

    assert len(notes) == 2, [n.payload for n in notes]
    assert names(notes[0].payload, start + 1, ACTIVE), notes[0].payload
    assert names(notes[1].payload, start + 2, OTHER_ACTIVE), notes[1].payload


def test_changes_recorded_together_are_notified_once_with_the_last_revision(
    catalog: Catalog, listener: psycopg.Connection[tuple[object, ...]]
) -> None:
    start = catalog.revision()

    async def patch_both() -> None:
        engine = async_engine(catalog.url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                await service.patch_models(
                    session,
                    [
                        (ACTIVE, {"meta": {"description": "one"}}),
                        (OTHER_ACTIVE, {"meta": {"description": "two"}}),
                    ],
                    Actor(name="import:litellm"),
                    reason="sync",
                )
        finally:
            await engine.dispose()

    asyncio.run(patch_both())

    notes = list(listener.notifies(timeout=5, stop_after=1))
    notes += received(listener, timeout=0.3)

    assert [n.payload.rsplit(":", 1)[0] for n in notes] == [f"{start + 2}:"]
    # ... while each change has its own revision.
    assert [e["catalog_revision"] for e in catalog.events(ACTIVE)][-1] == start + 1
    assert [e["catalog_revision"] for e in catalog.events(OTHER_ACTIVE)][-1] == start + 2
