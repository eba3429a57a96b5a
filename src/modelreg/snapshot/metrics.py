"""Prometheus metrics of the instance (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("modelreg_http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "modelreg_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
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
