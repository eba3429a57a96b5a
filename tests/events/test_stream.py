"""The live change stream (`GET /v1/catalog/events`) of an instance served on 127.0.0.1, while
another instance (the test client) writes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.events.live import Event, events, live_server
from tests.fixtures.catalog import ACTIVE, OTHER_ACTIVE, Catalog

STREAM = {"MODELREG_STREAM__HEARTBEAT_S": "0.2", "MODELREG_STREAM__MAX_SUBSCRIBERS": "2"}


@pytest.fixture
def base_url(catalog: Catalog) -> Iterator[str]:
    with live_server() as url:
        yield url


def rename(catalog: Catalog, model_id: str, name: str) -> None:
    catalog.patch_ok(model_id, {"meta": {"displayName": name}})


def take(stream: Iterator[Event], n: int) -> list[Event]:
    return [next(stream) for _ in range(n)]


@pytest.mark.parametrize("catalog", [STREAM], indirect=True)
def test_each_change_is_one_event_with_its_revision_as_id(catalog: Catalog, base_url: str) -> None:
    with httpx.Client(timeout=30) as http, http.stream("GET", f"{base_url}/v1/catalog/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        start = catalog.revision()
        rename(catalog, ACTIVE, "first")
        rename(catalog, OTHER_ACTIVE, "second")
        got = take(events(r), 2)
    assert [e.id for e in got] == [str(start + 1), str(start + 2)]
    assert [e.event for e in got] == ["change", "change"]
    first = json.loads(got[0].data)
    assert first["modelId"] == ACTIVE
    assert first["revision"] == start + 1
    assert first["model"]["id"] == ACTIVE


@pytest.mark.parametrize("catalog", [STREAM], indirect=True)
def test_a_client_resuming_with_last_event_id_misses_nothing(
    catalog: Catalog, base_url: str
) -> None:
    with httpx.Client(timeout=30) as http:
        with http.stream("GET", f"{base_url}/v1/catalog/events") as r:
            rename(catalog, ACTIVE, "one")
            [seen] = take(events(r), 1)
        # Changes while the client is away, then one more after it is back.
        rename(catalog, ACTIVE, "two")
        rename(catalog, OTHER_ACTIVE, "three")
        away = catalog.revision()
        with http.stream(
            "GET", f"{base_url}/v1/catalog/events", headers={"Last-Event-ID": str(seen.id)}
        ) as r:
            stream = events(r)
            missed = take(stream, 2)
            rename(catalog, ACTIVE, "four")
            [live] = take(stream, 1)
    assert [int(e.id or 0) for e in missed] == [away - 1, away]
    assert int(live.id or 0) == away + 1
    assert json.loads(live.data)["model"]["id"] == ACTIVE


@pytest.mark.parametrize("catalog", [STREAM], indirect=True)
def test_heartbeats_keep_an_idle_stream_alive(catalog: Catalog, base_url: str) -> None:
    with httpx.Client(timeout=30) as http, http.stream("GET", f"{base_url}/v1/catalog/events") as r:
        lines = r.iter_lines()
        first = next(line for line in lines if line)
    assert first.startswith(":")  # a comment: the heartbeat, with no change made


@pytest.mark.parametrize("catalog", [STREAM], indirect=True)
def test_subscribers_beyond_the_bound_are_refused(catalog: Catalog, base_url: str) -> None:
    url = f"{base_url}/v1/catalog/events"
    with httpx.Client(timeout=30) as http, http.stream("GET", url), http.stream("GET", url):
        refused = http.get(url)
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "stream_full"
