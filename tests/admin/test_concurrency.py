"""Concurrent writes to one model: with If-Match exactly one of two racing writers wins and the
other changes nothing; without it every writer is applied, one after the other.

The races run for real: requests from several threads at once against a live server (uvicorn
in a background thread), and, deterministically, two database sessions where the second waits
on the first one's row lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import Actor
from modelreg.auth.roles import Role
from modelreg.catalog import service
from modelreg.catalog.exceptions import VersionConflict
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from tests.admin.api import MERGE_PATCH, MODELS, model_body
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer
from tests.fixtures.live import live_instances
from tests.fixtures.models import PROVIDER, create_model
from tests.fixtures.tokens import issue_token
from tests.fixtures.waiting import until_async

RACE_ROUNDS = 5
WRITERS = 20
RACERS: dict[str, dict[str, Any]] = {
    "a": {"name": "Written by A", "meta": {"writtenByA": True, "description": "from A"}},
    "b": {"provider": "written-by-b", "meta": {"writtenByB": True, "version": "from B"}},
}


@pytest.fixture(scope="module")
def live_url(pg: PgServer) -> URL:
    return pg.database_at("head")


@pytest.fixture(scope="module")
def server(live_url: URL) -> Iterator[str]:
    """The app served by uvicorn on a free 127.0.0.1 port; its base URL."""
    with live_instances(live_url, 1) as (base,):
        yield base


@pytest.fixture(scope="module")
def editor(live_url: URL) -> dict[str, str]:
    return bearer(issue_token(live_url, Role.EDITOR))


def _client(server: str, editor: dict[str, str]) -> httpx2.Client:
    return httpx2.Client(base_url=server, headers=editor, timeout=60)


def _create(server: str, editor: dict[str, str], model_id: str) -> dict[str, Any]:
    with _client(server, editor) as client:
        response = client.post(
            MODELS,
            content=jsonb.dumps(model_body(model_id)),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    created: dict[str, Any] = jsonb.loads(response.text)
    return created


def _current(server: str, editor: dict[str, str], model_id: str) -> tuple[Any, list[int]]:
    with _client(server, editor) as client:
        model = client.get(f"{MODELS}/{model_id}")
        history = client.get(f"{MODELS}/{model_id}/history")
    assert model.status_code == history.status_code == 200, (model.text, history.text)
    return jsonb.loads(model.text), [v["version"] for v in history.json()["data"]]


def _patch_together(
    server: str, editor: dict[str, str], model_id: str, changes: list[Any], if_match: str | None
) -> list[httpx2.Response]:
    """Send every change from a thread of its own, all released at once."""
    barrier = threading.Barrier(len(changes))
    headers = {"Content-Type": MERGE_PATCH}
    if if_match is not None:
        headers["If-Match"] = if_match

    def send(change: Any) -> httpx2.Response:
        with _client(server, editor) as client:
            client.get("/healthz")  # connected before the start signal
            barrier.wait(timeout=30)
            return client.patch(
                f"{MODELS}/{model_id}", content=jsonb.dumps(change), headers=headers
            )

    with ThreadPoolExecutor(max_workers=len(changes)) as pool:
        return list(pool.map(send, changes))


def _fields(state: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """The values `state` has at the places `change` writes (None: absent)."""
    found = {key: state.get(key) for key in change if key != "meta"}
    found |= {f"meta.{key}": state["meta"].get(key) for key in change.get("meta", {})}
    return found


def _written(change: dict[str, Any]) -> dict[str, Any]:
    written = {key: value for key, value in change.items() if key != "meta"}
    return written | {f"meta.{key}": value for key, value in change.get("meta", {}).items()}


async def _until_a_session_waits_for_a_lock(observer: AsyncConnection) -> None:
    async def a_session_waits() -> bool:
        waiting = (
            await observer.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        ).scalar_one()
        await observer.rollback()  # a new statistics snapshot for the next look
        return bool(waiting)

    if not await until_async(a_session_waits):
        pytest.fail("the second writer never waited for the row lock")


async def _locked_race(url: URL) -> None:
    engine = async_engine(url)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        async with factory() as session, session.begin():
            await create_model(session, id="locked", name="Locked")

        async with factory() as first, factory() as second, engine.connect() as observer:
            won = await service.patch_model(
                first, "locked", {"name": "First"}, Actor(name="first"), if_match=1, reason=None
            )
            assert won.version == 2
            waiting = asyncio.create_task(
                service.patch_model(
                    second,
                    "locked",
                    {"provider": "second-lab", "meta": {"description": "second"}},
                    Actor(name="second"),
                    if_match=1,
                    reason=None,
                )
            )
            await _until_a_session_waits_for_a_lock(observer)
            assert not waiting.done()

            await first.commit()

            with pytest.raises(VersionConflict):
                await waiting
            await second.rollback()

        async with factory() as session:
            model = await service.get_model(session, "locked")
            versions = await audit_repository.versions(session, "locked")
        assert (model.version, model.name, model.provider) == (2, "First", PROVIDER)
        assert model.meta.get("description", "") == ""
        assert [(v.version, v.actor) for v in versions] == [(1, "test"), (2, "first")]
    finally:
        await engine.dispose()


# With If-Match: one winner.


def test_of_two_racing_patches_with_the_same_if_match_exactly_one_wins(
    server: str, editor: dict[str, str]
) -> None:
    for race in range(RACE_ROUNDS):
        model_id = f"race-{race}"
        original = _create(server, editor, model_id)

        a, b = _patch_together(server, editor, model_id, [RACERS["a"], RACERS["b"]], '"1"')

        assert sorted([a.status_code, b.status_code]) == [200, 412], (a.text, b.text)
        winner, loser = ("a", "b") if a.status_code == 200 else ("b", "a")
        assert (b if loser == "b" else a).json()["code"] == "version_conflict"
        final, history = _current(server, editor, model_id)
        assert final["version"] == 2
        assert history == [1, 2]
        assert _fields(final, RACERS[winner]) == _written(RACERS[winner])
        assert _fields(final, RACERS[loser]) == _fields(original, RACERS[loser])


def test_a_patch_waiting_on_the_row_lock_conflicts_once_the_holder_commits(
    head_url: URL,
) -> None:
    asyncio.run(_locked_race(head_url))


# Without If-Match: every writer applied.


def test_concurrent_patches_without_if_match_are_all_applied(
    server: str, editor: dict[str, str]
) -> None:
    _create(server, editor, "many-writers")
    changes = [{"meta": {f"writer{i:02d}": i}} for i in range(WRITERS)]

    responses = _patch_together(server, editor, "many-writers", changes, None)

    assert [r.status_code for r in responses] == [200] * WRITERS, [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, WRITERS + 2))
    final, history = _current(server, editor, "many-writers")
    assert final["version"] == 1 + WRITERS
    assert history == list(range(1, WRITERS + 2))
    assert {k: v for k, v in final["meta"].items() if k.startswith("writer")} == {
        f"writer{i:02d}": i for i in range(WRITERS)
    }
