"""Prometheus metrics of the instance (served at /metrics)."""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# How prometheus_client writes a bucket bound (the library's function has no annotations).
_go_float = cast(Callable[[float], str], floatToGoString)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PlainHistograms:
    """Histograms by label values, kept in plain Python numbers: observing costs a dict lookup,
    a bisect and two additions, where prometheus_client's Histogram takes a lock.

    No lock at all: `observe` is meant for one thread at a time (the event loop's; the
    collector's callback, which runs in whichever thread allocates). Two threads observing the
    same series at once could lose an increment now and then, never corrupt the exposition.
    """

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ):
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.buckets = tuple(float(b) for b in buckets if b != float("inf"))
        self._bounds = [*(_go_float(b) for b in self.buckets), "+Inf"]
        # label values (made text at scrape time) -> [count per bucket..., count above the
        # last bucket, sum]
        self._series: dict[tuple[str | int, ...], list[float]] = {}

    def observe(self, values: tuple[str | int, ...], seconds: float) -> None:
        series = self.series_of(values)
        series[bisect_left(self.buckets, seconds)] += 1
        series[-1] += seconds

    def observe_rows(self, rows: Iterable[tuple[Any, ...]], width: int) -> None:
        """`observe(row[:width], row[width])` for each row, in one loop (a batch of rows whose
        first `width` items are the label values and the next the seconds; more are ignored)."""
        known = self._series.get  # a known series without a call; a new one made by series_of
        buckets = self.buckets
        for row in rows:
            values = row[:width]
            series = known(values) or self.series_of(values)
            seconds: float = row[width]
            series[bisect_left(buckets, seconds)] += 1
            series[-1] += seconds

    def series_of(self, values: tuple[str | int, ...]) -> list[float]:
        """The series of `values`: a count per bucket, the count above the last, the sum."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = [0] * (len(self.buckets) + 1) + [0.0]
        return series

    def families(self) -> tuple[HistogramMetricFamily, list[tuple[list[str], float]]]:
        """The histogram family, and the count of each series (for a matching counter)."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        counts: list[tuple[list[str], float]] = []
        for values, series in list(self._series.items()):
            cumulative, running = [], 0.0
            for bound, count in zip(self._bounds, series[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            labels = [str(value) for value in values]
            family.add_metric(labels, cumulative, series[-1])
            counts.append((labels, running))
        return family, counts


class RequestStats(Collector):
    """Request count and latency per method, route template and status, in plain numbers kept
    by the event loop and turned into Prometheus metrics only when /metrics is scraped (the
    fast path spends about a tenth of a request less than with prometheus_client's locks).

    Exposes `modelreg_http_requests_total` (a counter) and
    `modelreg_http_request_duration_seconds` (a histogram), both labelled method, route, status.
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.latency = PlainHistograms(
            "modelreg_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route", "status"],
            buckets,
        )

    def observe_many(
        self, requests: Iterable[tuple[str, str, int, float, *tuple[object, ...]]]
    ) -> None:
        """Count and time a batch of requests, each a tuple that starts with method, route,
        status and the seconds it took (the access log's records are such tuples)."""
        self.latency.observe_rows(requests, 3)

    def collect(self) -> Iterator[Metric]:
        latency, counts = self.latency.families()
        requests = CounterMetricFamily(
            "modelreg_http_requests", "HTTP requests.", labels=self.latency.labels
        )
        for values, count in counts:
            requests.add_metric(values, count)
        yield requests
        yield latency


class GcPauses(Collector):
    """Every garbage collection's pause, by generation, timed through gc.callbacks.

    Plain numbers, not prometheus_client's Histogram: a collection can start while any code
    (prometheus_client's included) holds a lock, and the callback must not wait for one.
    """

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses = PlainHistograms(
            "modelreg_gc_pause_seconds",
            "Garbage collection pauses, by generation (requests wait meanwhile).",
            ["generation"],
            (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
        )
        self._generations = [(str(g),) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self.started
            self.pauses.observe(self._generations[info["generation"]], elapsed)

    def collect(self) -> Iterator[Metric]:
        yield self.pauses.families()[0]


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
SYNC_RUNS = Counter(
    "modelreg_import_sync_runs_total",
    "Scheduled import runs by source and result (applied, review, nothing, locked, failed).",
    ["source", "result"],
)
SYNC_CHANGES = Counter(
    "modelreg_import_sync_changes_total", "Changes applied by the scheduled sync.", ["source"]
)
SYNC_LAST_RUN = Gauge(
    "modelreg_import_sync_last_run_timestamp_seconds", "When the scheduled sync last ran."
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
GC_PAUSES = GcPauses()
REGISTRY.register(GC_PAUSES)


def time_gc_pauses() -> None:
    """Start timing collections (once per process)."""
    if GC_PAUSES not in gc.callbacks:
        gc.callbacks.append(GC_PAUSES)


# Webhooks and the change stream (modelreg.events, modelreg.public.stream).
WEBHOOK_DELIVERIES = Counter(
    "modelreg_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)
WEBHOOK_LATENCY = Histogram(
    "modelreg_webhook_delivery_seconds", "Duration of webhook delivery attempts."
)
WEBHOOK_FAILING = Gauge(
    "modelreg_webhook_subscriptions_failing",
    "Subscriptions marked failing (retried past the retry window, paused).",
)
STREAM_SUBSCRIBERS = Gauge(
    "modelreg_stream_subscribers", "Clients connected to /v1/catalog/events on this instance."
)
