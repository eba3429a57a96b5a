"""Prometheus metrics of the instance (served at /metrics)."""

from __future__ import annotations

import bisect
import gc
import time
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestStats(Collector):
    """Request count and latency per method, route template and status.

    Kept in plain Python numbers by the event loop that serves the requests, and turned into
    Prometheus metrics only when /metrics is scraped: counting a request costs a dict lookup,
    a bisect and two additions, where prometheus_client's own Counter and Histogram take a lock
    each (about a tenth of a fast-path request).

    Exposes `modelreg_http_requests_total` (a counter) and
    `modelreg_http_request_duration_seconds` (a histogram), both labelled method, route, status.
    `observe` takes no lock: it is meant for the one thread that runs the event loop (a
    process serving from several threads at once could lose an increment now and then).
    """

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        # (method, route, status) -> [count per bucket..., count above the last bucket, sum]
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0] * (len(self.buckets) + 1) + [0.0]
        series[bisect.bisect_left(self.buckets, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        labels = ["method", "route", "status"]
        requests = CounterMetricFamily("modelreg_http_requests", "HTTP requests.", labels=labels)
        latency = HistogramMetricFamily(
            "modelreg_http_request_duration_seconds", "HTTP request latency.", labels=labels
        )
        bounds = [*(repr(float(b)) for b in self.buckets), "+Inf"]
        for (method, route, status), series in list(self._series.items()):
            counts = series[:-1]
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            values = [method, route, str(status)]
            requests.add_metric(values, running)
            latency.add_metric(values, cumulative, series[-1])
        yield requests
        yield latency


REQUEST_STATS = RequestStats()
REGISTRY.register(REQUEST_STATS)
ERRORS = Counter("modelreg_errors_total", "Error responses by problem code.", ["code"])
SNAPSHOT_REVISION = Gauge("modelreg_snapshot_revision", "Catalog revision being served.")
SNAPSHOT_AGE = Gauge(
    "modelreg_snapshot_age_seconds",
    "Seconds since the database last confirmed the snapshot is current.",
)
RELOADS = Counter("modelreg_snapshot_reloads_total", "Snapshot reloads.")
RELOAD_FAILURES = Counter("modelreg_snapshot_reload_failures_total", "Failed snapshot reloads.")
RELOAD_SECONDS = Histogram(
    "modelreg_snapshot_reload_duration_seconds",
    "Time to load and build a snapshot.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
NOTIFICATION_LAG = Histogram(
    "modelreg_notification_lag_seconds",
    "From a change's commit to this instance serving it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
LISTENER_CONNECTED = Gauge(
    "modelreg_listener_connected", "1 while the LISTEN connection is up, else 0."
)
DB_POOL_IN_USE = Gauge("modelreg_db_pool_in_use", "Database connections checked out.")


def observe_reload(seconds: float, revision: int) -> None:
    RELOADS.inc()
    RELOAD_SECONDS.observe(seconds)
    SNAPSHOT_REVISION.set(revision)


HEAP_SETTLE_SECONDS = Histogram(
    "modelreg_heap_settle_duration_seconds",
    "Collecting and freezing the heap after a snapshot swap.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
HEAP_FROZEN_OBJECTS = Gauge(
    "modelreg_heap_frozen_objects",
    "Objects in the garbage collector's permanent generation (not walked by collections).",
)
GC_PAUSE_SECONDS = Histogram(
    "modelreg_gc_pause_seconds",
    "Garbage collection pauses, by generation (requests wait meanwhile).",
    ["generation"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)


class _GcTimer:
    """Times every collection through gc.callbacks (installed once per process)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.children = [GC_PAUSE_SECONDS.labels(str(g)) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.children[info["generation"]].observe(time.perf_counter() - self.started)


_gc_timer = _GcTimer()


def time_gc_pauses() -> None:
    if _gc_timer not in gc.callbacks:
        gc.callbacks.append(_gc_timer)
