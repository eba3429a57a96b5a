"""Writes that change the replacement graph, raced for real: requests released together against
live instances (one, or split across two) over one database. Exactly the writes that keep the
graph sound win, every trial; /resolve then ends at a served model from every model raced."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.auth.roles import Role
from modelreg.catalog import service
from modelreg.catalog.schemas import ModelCreate
from modelreg.db.engine import async_engine
from tests.admin.api import MODELS, model_body
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer
from tests.fixtures.live import assert_history_agrees, live_instances
from tests.fixtures.tokens import issue_token
from tests.fixtures.waiting import poll
from tests.public.instances import catalog_revision

TRIALS = 6


@dataclass(frozen=True)
class Cluster:
    url: URL
    instances: list[str]
    headers: dict[str, str]


@pytest.fixture(scope="module")
def cluster(pg: PgServer) -> Iterator[Cluster]:
    url = pg.database_at("head")
    headers = bearer(issue_token(url, Role.EDITOR))
    with live_instances(url, 2, snapshot__poll_interval_s="0.2") as instances:
        yield Cluster(url, instances, headers)


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]


async def _insert(url: URL, ids: list[str]) -> None:
    engine = async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            for model_id in ids:
                body = ModelCreate.model_validate(model_body(model_id))
                await service.create_model(session, body, Actor(name="tests"))
    finally:
        await engine.dispose()


def _create(cluster: Cluster, count: int) -> list[str]:
    """`count` new active models, made in one transaction (one reload per instance)."""
    ids = [f"race-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    asyncio.run(_insert(cluster.url, ids))
    return ids


def _race(cluster: Cluster, calls: list[Call], split: bool) -> list[int]:
    """Send `calls` at the same moment (call i to instance i % 2 when split); their statuses."""
    statuses = [0] * len(calls)
    ready = threading.Barrier(len(calls))
    clients = [
        httpx2.Client(
            base_url=cluster.instances[i % 2 if split else 0], headers=cluster.headers, timeout=30
        )
        for i in range(len(calls))
    ]

    def send(i: int) -> None:
        clients[i].get("/healthz")  # connected before the start
        ready.wait(timeout=30)
        statuses[i] = clients[i].post(calls[i].path, json=calls[i].body).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for client in clients:
            client.close()
    return statuses


def mark_legacy(model_id: str, replacement: str) -> Call:
    return Call(
        f"{MODELS}/{model_id}/mark-legacy",
        {"reason": "race", "replacement_model_id": replacement},
    )


def archive(model_id: str) -> Call:
    return Call(f"{MODELS}/{model_id}/archive", {"reason": "race"})


def _assert_resolves_to_served(cluster: Cluster, model_ids: list[str]) -> None:
    """Every instance, once it serves the latest revision, resolves each model to a served one
    at the end of a chain without a loop."""
    revision = catalog_revision(cluster.url)
    for base in cluster.instances:
        with httpx2.Client(base_url=base) as client:
            seen = poll(
                lambda c=client: c.get("/readyz").json()["revision"],  # type: ignore[misc]
                lambda r: r >= revision,
            )
            assert seen >= revision
            for model_id in model_ids:
                response = client.get(f"/v1/models/{model_id}/resolve")
                if response.status_code == 410 and response.json().get("chain") == [model_id]:
                    continue  # the archive won: the model itself is not served
                assert response.status_code == 200, response.text
                body = response.json()
                assert len(set(body["chain"])) == len(body["chain"]), body["chain"]
                end = body["model"]
                assert end["state"] != "archived", end
                assert end["available"], end
                assert end["state"] == "active" or not (end.get("legacy") or {}).get(
                    "replacement_model_id"
                ), body["chain"]


Scenario = Callable[[list[str]], list[Call]]
SCENARIOS: dict[str, tuple[int, Scenario, list[list[int]]]] = {
    # name: (models it takes, its racing calls, the sorted statuses it may end with)
    "pair": (
        2,
        lambda m: [mark_legacy(m[0], m[1]), mark_legacy(m[1], m[0])],
        [[200, 422]],  # the second would close a loop
    ),
    "triangle": (
        3,
        lambda m: [mark_legacy(m[0], m[1]), mark_legacy(m[1], m[2]), mark_legacy(m[2], m[0])],
        [[200, 200, 422]],  # the third would close a loop
    ),
    "mark-legacy-vs-archive": (
        2,
        lambda m: [mark_legacy(m[0], m[1]), archive(m[1])],
        # archived first: the replacement is refused (422); marked first: the archive (409)
        [[200, 409], [200, 422]],
    ),
}


@pytest.mark.parametrize("split", [False, True], ids=["one-instance", "two-instances"])
def test_racing_graph_writes_leave_a_sound_graph(cluster: Cluster, split: bool) -> None:
    """Each trial releases every scenario's calls at once, each scenario on models of its own."""
    per_trial = sum(size for size, _, _ in SCENARIOS.values())
    ids = _create(cluster, per_trial * TRIALS)
    outcomes: dict[str, list[list[int]]] = {name: [] for name in SCENARIOS}
    for trial in range(TRIALS):
        models = iter(ids[trial * per_trial : (trial + 1) * per_trial])
        calls: list[Call] = []
        spans: dict[str, slice] = {}
        for name, (size, calls_for, _) in SCENARIOS.items():
            mine = calls_for([next(models) for _ in range(size)])
            spans[name] = slice(len(calls), len(calls) + len(mine))
            calls.extend(mine)
        statuses = _race(cluster, calls, split)
        for name, span in spans.items():
            outcomes[name].append(sorted(statuses[span]))

    for name, (_, _, allowed) in SCENARIOS.items():
        assert [o for o in outcomes[name] if o not in allowed] == [], (name, outcomes[name])
    _assert_resolves_to_served(cluster, ids)
    assert_history_agrees(cluster.url)
