"""What an instance tells its operators: a request id on every response, Prometheus metrics per
route template and of the snapshot, and one JSON access-log line per request."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import os
import pathlib
import re
import time
from collections.abc import Iterator
from typing import Any, TextIO

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from modelreg.db.urls import libpq_conninfo
from modelreg.logs import (
    ACCESS_LOG_DROPPED,
    ACCESS_LOGGER,
    AccessLog,
    AccessRecord,
    JsonFormatter,
    json_text,
    request_id_var,
)
from modelreg.metrics import RequestStats
from modelreg.public.edge import Edge, _RequestIds
from tests.fixtures.databases import Seeded
from tests.fixtures.http import serving
from tests.fixtures.waiting import poll, until
from tests.public.instances import (
    ACTIVE,
    LEGACY,
    TARGETS,
    Reader,
    Target,
    catalog_revision,
    description,
    patch_description,
    readiness,
    service_change,
)

REQUEST_ID = "req-7f3a-snapshot-tests"


@pytest.fixture(autouse=True)
def access_logger_on(caplog: pytest.LogCaptureFixture) -> None:
    """The access log writes its batches while `modelreg.access` is enabled for INFO, as
    `modelreg serve` configures it (a test may still silence it)."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)


GENERATED_ID = re.compile(r"[0-9a-f]{32}")
MODEL_ROUTE = "/v1/models/{model_id}"
# The public resources both ways, and a route of the app that is not public.
TARGETS_AND_HEALTH = [*TARGETS, Target("/healthz", fast=False)]


@pytest.fixture
def client(serve_seeded: Seeded) -> Iterator[TestClient]:
    with serving(snapshot__poll_interval_s="3600") as client:
        yield client


def samples(client: TestClient) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when none)."""
    return sum(
        s.value
        for s in samples(client)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# Request ids.


@pytest.mark.parametrize("target", TARGETS_AND_HEALTH, ids=str)
def test_given_request_id_is_echoed(reader: Reader, target: Target) -> None:
    response = reader.client.get(target.url(), headers={"X-Request-ID": REQUEST_ID})

    assert response.status_code == 200, response.text
    assert response.headers.get("x-request-id") == REQUEST_ID


@pytest.mark.parametrize("target", TARGETS_AND_HEALTH, ids=str)
def test_request_id_is_generated_when_none_is_given(reader: Reader, target: Target) -> None:
    first = reader.client.get(target.url()).headers.get("x-request-id", "")
    second = reader.client.get(target.url()).headers.get("x-request-id", "")

    assert GENERATED_ID.fullmatch(first), first
    assert GENERATED_ID.fullmatch(second), second
    assert first != second


def test_generated_request_ids_count_up_in_both_forms_across_their_runs() -> None:
    ids = _RequestIds()
    made = [ids.next() for _ in range(3 * 4096 + 5)]

    assert all(text.encode() == raw for raw, text in made)
    assert all(GENERATED_ID.fullmatch(text) for _, text in made)
    counters = [int(text[16:], 16) for _, text in made]
    assert counters == list(range(counters[0], counters[0] + len(made)))
    assert len({text[:16] for _, text in made}) == 1  # one prefix per process
    ids.reset()  # as in a forked child
    assert ids.next()[1][:16] != made[0][1][:16]


def test_admin_write_records_the_given_request_id_in_the_audit_trail(
    client: TestClient, serve_seeded: Seeded
) -> None:
    response = patch_description(
        client, serve_seeded.token, ACTIVE, "traced change", request_id=REQUEST_ID
    )

    assert response.status_code == 200, response.text
    assert response.headers.get("x-request-id") == REQUEST_ID
    with psycopg.connect(libpq_conninfo(serve_seeded.url)) as conn:
        row = conn.execute(
            "SELECT request_id FROM audit_events WHERE model_id = %s ORDER BY id DESC LIMIT 1",
            (ACTIVE,),
        ).fetchone()
    assert row == (REQUEST_ID,)


# Metrics.


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (Target(f"/v1/models/{LEGACY}", fast=True), "200"),
        (Target(f"/v1/models/{LEGACY}", fast=False), "200"),
        (Target("/v1/models/no-such-model", fast=True), "404"),
    ],
    ids=str,
)
def test_requests_are_counted_under_their_route_template_not_the_raw_path(
    reader: Reader, target: Target, status: str
) -> None:
    client = reader.client
    labels = {"method": "GET", "route": MODEL_ROUTE, "status": status}
    before = metric(client, "modelreg_http_requests_total", **labels)

    assert client.get(target.url()).status_code == int(status)

    assert metric(client, "modelreg_http_requests_total", **labels) == before + 1
    routes = {s.labels.get("route") for s in samples(client) if s.name.startswith("modelreg_http")}
    assert not {r for r in routes if r and ("gpt-4o" in r or "no-such-model" in r)}, routes


@pytest.mark.parametrize("target", [Target(f"/v1/models/{LEGACY}", fast=True)], ids=str)
def test_request_latency_histogram_counts_each_request_in_cumulative_buckets(
    reader: Reader, target: Target
) -> None:
    client = reader.client
    labels = {"method": "GET", "route": MODEL_ROUTE, "status": "200"}
    name = "modelreg_http_request_duration_seconds"
    before = metric(client, f"{name}_count", **labels)

    assert client.get(target.url()).status_code == 200

    assert metric(client, f"{name}_count", **labels) == before + 1
    buckets = [
        (float(s.labels["le"]), s.value)
        for s in samples(client)
        if s.name == f"{name}_bucket" and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    counts = [count for _, count in sorted(buckets)]
    assert counts == sorted(counts), buckets  # cumulative
    assert counts[-1] == metric(client, f"{name}_count", **labels)
    assert metric(client, f"{name}_sum", **labels) > 0


def test_request_stats_put_each_duration_in_the_first_bucket_that_holds_it() -> None:
    stats = RequestStats(buckets=(0.001, 0.01, 0.1))
    ok = [record("/r", 200, seconds * 1000) for seconds in (0.0005, 0.001, 0.002, 0.5)]
    stats.observe_many([*ok[:2], record("/r", 404, 50.0), *ok[2:]])

    families = {family.name: family for family in stats.collect()}
    found = {
        (s.name, s.labels.get("status"), s.labels.get("le")): s.value
        for family in families.values()
        for s in family.samples
    }
    assert found[("modelreg_http_requests_total", "200", None)] == 4
    assert found[("modelreg_http_requests_total", "404", None)] == 1
    cumulative = {
        le: found[("modelreg_http_request_duration_seconds_bucket", "200", le)]
        for le in ("0.001", "0.01", "0.1", "+Inf")
    }
    assert cumulative == {"0.001": 2, "0.01": 3, "0.1": 3, "+Inf": 4}
    assert found[("modelreg_http_request_duration_seconds_sum", "200", None)] == pytest.approx(
        0.5035
    )
    assert found[("modelreg_http_request_duration_seconds_count", "404", None)] == 1


def test_garbage_collection_pauses_are_timed(reader: Reader) -> None:
    name = "modelreg_gc_pause_seconds_count"
    before = metric(reader.client, name, generation="2")

    gc.collect()

    assert metric(reader.client, name, generation="2") >= before + 1


def test_the_heap_is_settled_after_the_snapshot_is_built(reader: Reader) -> None:
    store = reader.client.app.state.snapshot  # type: ignore[attr-defined]
    assert store.heap.enabled
    assert store.heap.settles >= 1
    assert metric(reader.client, "modelreg_heap_settle_duration_seconds_count") >= 1
    assert metric(reader.client, "modelreg_heap_frozen_objects") > 0


def test_a_write_leaves_the_heap_settle_to_a_quiet_moment(
    client: TestClient, serve_seeded: Seeded
) -> None:
    """The reload after a write does not settle the heap on the write's path: it leaves the
    settle pending, and the store settles once reloads pause (SETTLE_QUIET_S)."""
    store = client.app.state.snapshot  # type: ignore[attr-defined]
    settles = store.heap.settles

    response = patch_description(client, serve_seeded.token, ACTIVE, "settled later")
    assert response.status_code == 200, response.text

    assert until(lambda: store.heap.settles > settles and not store.heap.pending)


def test_snapshot_revision_gauge_is_the_revision_served(
    client: TestClient, serve_seeded: Seeded
) -> None:
    response = patch_description(client, serve_seeded.token, ACTIVE, "a new revision")
    assert response.status_code == 200, response.text

    assert metric(client, "modelreg_snapshot_revision") == catalog_revision(serve_seeded.url)


def test_snapshot_reloads_are_counted(client: TestClient, serve_seeded: Seeded) -> None:
    before = metric(client, "modelreg_snapshot_reloads_total")

    response = patch_description(client, serve_seeded.token, ACTIVE, "reload me")
    assert response.status_code == 200, response.text

    assert metric(client, "modelreg_snapshot_reloads_total") > before


def test_notification_lag_is_observed_by_an_instance_that_learns_of_a_change(
    client: TestClient, serve_seeded: Seeded
) -> None:
    name = "modelreg_notification_lag_seconds_count"
    _, ready = poll(lambda: readiness(client), lambda r: r[1].get("listener") == "connected")
    assert ready["listener"] == "connected"
    before = metric(client, name)

    service_change(serve_seeded.url, ACTIVE, "changed by another instance")

    assert poll(lambda: description(client, ACTIVE), lambda d: d == "changed by another instance")
    assert poll(lambda: metric(client, name), lambda count: count > before) == before + 1
    assert metric(client, "modelreg_notification_lag_seconds_sum") >= 0


def test_database_pool_usage_is_exposed(reader: Reader) -> None:
    assert "modelreg_db_pool_in_use" in {s.name for s in samples(reader.client)}


# Access log.


@pytest.fixture
def access_log(reader: Reader) -> Iterator[io.StringIO]:
    """What the instance's access log writes, from now on."""
    edge: Edge = reader.client.app.edge  # type: ignore[attr-defined]
    log = edge.access_log
    assert isinstance(log, AccessLog)
    stream, before = io.StringIO(), log.stream

    def use(target: TextIO | None) -> None:
        edge.flush()
        log.stream = target

    # On the app's own loop, so that no flush of a batch runs in between.
    reader.client.portal.call(use, stream)  # type: ignore[union-attr]
    try:
        yield stream
    finally:
        reader.client.portal.call(use, before)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "target",
    [Target(f"/v1/models/{ACTIVE}", fast=True), Target(f"/v1/models/{ACTIVE}", fast=False)],
    ids=str,
)
def test_each_request_is_one_json_access_log_line(
    reader: Reader, access_log: io.StringIO, target: Target
) -> None:
    response = reader.client.get(target.url(), headers={"X-Request-ID": REQUEST_ID})
    assert response.status_code == 200

    # Written within the flush interval, without another request to push it out.
    lines = poll(lambda: access_log.getvalue().splitlines(), lambda seen: len(seen) >= 1)
    assert len(lines) == 1, lines
    entry: dict[str, Any] = json.loads(lines[0])
    assert entry["logger"] == ACCESS_LOGGER
    assert entry["level"] == "info"
    assert entry["method"] == "GET"
    assert entry["path"] == f"/v1/models/{ACTIVE}"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], int | float)
    assert entry["duration_ms"] >= 0
    assert entry["request_id"] == REQUEST_ID


def record(
    path: str,
    status: int = 200,
    duration_ms: float = 1.0,
    request_id: str = "r",
    ended: float | None = None,
) -> AccessRecord:
    """One GET's record as the edge makes it (`ended`: its perf_counter() time; now by default)."""
    return (
        "GET",
        "/v1/models/{model_id}",
        status,
        duration_ms / 1000,
        time.perf_counter() if ended is None else ended,
        path,
        request_id,
    )


def test_access_log_lines_are_json_whatever_the_path_and_request_id() -> None:
    stream = io.StringIO()
    odd_id = 'q"\\x\u00e9\n'
    AccessLog(stream).write([record('/v1/models/a"b\\c\u2603', 404, 0.5, json_text(odd_id))])

    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["path"] == '/v1/models/a"b\\c\u2603'
    assert entry["request_id"] == odd_id
    assert entry["status"] == 404
    assert entry["duration_ms"] == 0.5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])


def test_access_log_lines_have_the_shape_of_every_other_log_line() -> None:
    stream = io.StringIO()
    AccessLog(stream).write([record("/v1/models", 200, 1.5, "rid")])
    extra = {"method": "GET", "path": "/v1/models", "status": 200, "duration_ms": 1.5}
    log_record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, "request", (), None, extra=extra
    )
    token = request_id_var.set("rid")
    try:
        formatted = json.loads(JsonFormatter().format(log_record))
    finally:
        request_id_var.reset(token)

    written = json.loads(stream.getvalue())
    assert list(written) == list(formatted)
    assert {k: v for k, v in written.items() if k != "ts"} == {
        k: v for k, v in formatted.items() if k != "ts"
    }


def test_requests_are_counted_and_logged_a_batch_at_a_time(
    reader: Reader, access_log: io.StringIO
) -> None:
    edge: Edge = reader.client.app.edge  # type: ignore[attr-defined]
    labels = {"method": "GET", "route": MODEL_ROUTE, "status": "200"}
    assert reader.client.portal is not None
    reader.client.portal.call(setattr, edge.finished, "interval_s", 3600.0)
    try:
        before = metric(reader.client, "modelreg_http_requests_total", **labels)
        reader.client.portal.call(edge.flush)  # that request's own record
        written = access_log.getvalue()

        for _ in range(3):
            assert reader.client.get(f"/v1/models/{ACTIVE}").status_code == 200
        assert access_log.getvalue() == written, "held for the interval"
        assert len(edge.finished.items) == 3

        # /metrics counts every request answered so far, and writes their lines.
        after = metric(reader.client, "modelreg_http_requests_total", **labels)
        assert after == before + 3
        lines = access_log.getvalue()[len(written) :].splitlines()
        assert [json.loads(line)["path"] for line in lines] == [f"/v1/models/{ACTIVE}"] * 3
    finally:
        reader.client.portal.call(setattr, edge.finished, "interval_s", 0.1)


def test_access_log_can_be_silenced_through_logging(
    reader: Reader, access_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)

    assert reader.client.get(f"/v1/models/{ACTIVE}").status_code == 200
    edge: Edge = reader.client.app.edge  # type: ignore[attr-defined]
    assert reader.client.portal is not None
    reader.client.portal.call(edge.flush)

    assert access_log.getvalue() == ""


class Broken(io.StringIO):
    """A stream whose reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError("the reader went away")


def test_a_failing_log_stream_drops_the_batch_without_raising() -> None:
    log = AccessLog(Broken())
    before = ACCESS_LOG_DROPPED._value.get()

    log.write([record("/a"), record("/b")])

    assert log.dropped == 2
    assert ACCESS_LOG_DROPPED._value.get() == before + 2


def test_batches_are_written_in_pieces_that_end_with_a_line() -> None:
    writes: list[str] = []

    class Recording(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    batch = [record(f"/{i}/" + "x" * 50) for i in range(300)]
    batch.append(record("/" + "p" * 5000))  # one line longer than a piece
    AccessLog(Recording()).write(batch)

    assert all(w.endswith("\n") for w in writes)
    assert all(len(w) <= AccessLog.CHUNK for w in writes if w.count("\n") > 1)
    assert sum(w.count("\n") for w in writes) == 301
    assert len(writes) > 1


class CountedWrites(io.TextIOWrapper):
    """A text stream over a real file descriptor that records the size of each write."""

    def __init__(self, fd: int) -> None:
        super().__init__(io.FileIO(fd, "w"), write_through=True)
        self.writes: list[int] = []

    def write(self, text: str) -> int:
        self.writes.append(len(text))
        return super().write(text)


def test_a_batch_is_one_write_to_a_regular_file_and_pieces_to_a_pipe(
    tmp_path: pathlib.Path,
) -> None:
    def batch(stream: CountedWrites) -> list[int]:
        # about 20 KB
        AccessLog(stream).write(
            [record(f"/v1/models/m-{i}", request_id=f"id-{i}") for i in range(100)]
        )
        return stream.writes

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    with CountedWrites(os.open(tmp_path / "access.log", os.O_WRONLY | os.O_CREAT)) as regular:
        to_file = batch(regular)
    with CountedWrites(write_end) as pipe:
        to_pipe = batch(pipe)
    received = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(read_end, 65_536):
            received += chunk
    os.close(read_end)

    assert len((tmp_path / "access.log").read_text().splitlines()) == 100
    assert len(received.splitlines()) == 100
    assert len(to_file) == 1
    assert to_file[0] > AccessLog.CHUNK
    assert len(to_pipe) > 1
    assert max(to_pipe) <= AccessLog.CHUNK


def test_access_log_times_each_line_to_its_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    # The clocks as the batch is written: perf_counter() 100 s when time() is 1,800,000,000 s.
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    monkeypatch.setattr(time, "perf_counter", lambda: 100.0)
    ended = [99.9996, 99.9984, 99.9981, 99.25]  # 0.4 ms, 1.6 ms, 1.9 ms, 0.75 s ago
    AccessLog(stream).write([record("/v1/models", ended=moment) for moment in ended])

    stamps = [json.loads(line)["ts"] for line in stream.getvalue().splitlines()]
    assert stamps == [
        "2027-01-15T07:59:59.999Z",
        "2027-01-15T07:59:59.998Z",
        "2027-01-15T07:59:59.998Z",
        "2027-01-15T07:59:59.250Z",
    ]


def test_access_log_lines_stay_right_once_its_cache_of_paths_is_full() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    paths = [f"/v1/models/m{i}" for i in range(AccessLog.CACHED_FIELDS + 50)]
    for status in (200, 404):
        log.write([record(path, status, 2.5) for path in paths])

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["path"], e["status"]) for e in entries] == [
        (path, status) for status in (200, 404) for path in paths
    ]
    assert all(e["duration_ms"] == 2.5 for e in entries)
    assert len(log._fields) == AccessLog.CACHED_FIELDS


def test_lines_waiting_at_shutdown_are_written(serve_seeded: Seeded) -> None:
    stream = io.StringIO()
    with serving() as client:
        edge = client.app.edge  # type: ignore[attr-defined]
        edge.access_log.stream, edge.finished.interval_s = stream, 3600.0
        assert client.get(f"/v1/models/{ACTIVE}").status_code == 200
        assert stream.getvalue() == "", "held for the interval"

    assert json.loads(stream.getvalue())["path"] == f"/v1/models/{ACTIVE}"
