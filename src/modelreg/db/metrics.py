"""Prometheus metrics of the database layer: the time of every SQL statement by query name, and
how often the catalog's indexes are used (read from PostgreSQL's statistics when /metrics is
scraped, at most once per `INDEX_USAGE_TTL_S`)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from modelreg.db.indexes import INDEX_USAGE

log = logging.getLogger(__name__)

QUERY_SECONDS = Histogram(
    "modelreg_db_query_duration_seconds",
    "Time of SQL statements (admin API, CLI, snapshot reloads), by query name: the "
    "`query_name` execution option, or the statement's verb and first table.",
    ["query"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

_FIRST_TABLE = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(?:ONLY\s+)?((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)",
    re.IGNORECASE,
)
_FUNCTION = re.compile(r"^\s*SELECT\s+(\w+)\s*\(", re.IGNORECASE)
_VERBS = ("select", "insert", "update", "delete", "with")


@lru_cache(maxsize=2048)
def query_name(statement: str) -> str:
    """`select models`, `update catalog_state`, `select pg_notify`, `set`: a name that groups
    the executions of one kind of statement, whatever its parameters."""
    words = statement.split(None, 1)
    if not words:
        return "empty"
    verb = words[0].lower()
    if verb not in _VERBS:
        return verb
    if verb == "with":  # name a CTE statement after its main verb
        main = re.search(r"\)\s*(SELECT|INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE)
        verb = main.group(1).lower() if main else "select"
    table = _FIRST_TABLE.search(statement)
    if table is not None:
        return f"{verb} {table.group(1).replace(chr(34), '')}"
    function = _FUNCTION.match(statement)
    return f"{verb} {function.group(1).lower()}" if function else verb


def time_queries(engine: Engine | AsyncEngine) -> None:
    """Observe every statement `engine` runs in QUERY_SECONDS."""
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    if event.contains(target, "before_cursor_execute", _started):
        return
    event.listen(target, "before_cursor_execute", _started)
    event.listen(target, "after_cursor_execute", _finished)


def _started(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if context is not None:
        context._modelreg_started = time.perf_counter()


def _finished(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    started = getattr(context, "_modelreg_started", None)
    if started is None:
        return
    name = context.execution_options.get("query_name") or query_name(statement)
    QUERY_SECONDS.labels(name).observe(time.perf_counter() - started)


INDEX_USAGE_TTL_S = 30.0


class IndexUsage(Collector):
    """`modelreg_catalog_index_scans_total{index}` for the seven catalog indexes and
    `modelreg_catalog_table_scans_total{kind}` (sequential and index scans of `models`), as
    PostgreSQL counts them (since its statistics were last reset). Read only when /metrics is
    scraped, and then at most once per INDEX_USAGE_TTL_S: the figures move slowly, and a scrape
    must not cost the database a query every time."""

    def __init__(self, ttl_s: float = INDEX_USAGE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self.read_at: float | None = None
        self.indexes: dict[str, int] = {}
        self.table: dict[str, int] = {}

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read the figures again if the last read is older than the TTL (a failure keeps the
        last figures: /metrics must answer while the database is away)."""
        now = time.monotonic()
        if self.read_at is not None and now - self.read_at < self.ttl_s:
            return
        self.read_at = now
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        INDEX_USAGE.execution_options(query_name="metrics index usage")
                    )
                ).all()
        except Exception:
            log.warning("could not read the catalog's index usage", exc_info=True)
            return
        self.indexes = {str(r.name): int(r.scans) for r in rows if r.kind == "index"}
        self.table = {str(r.name): int(r.scans) for r in rows if r.kind == "table"}

    def collect(self) -> Iterator[Metric]:
        if self.read_at is None:
            return
        indexes = CounterMetricFamily(
            "modelreg_catalog_index_scans",
            "Scans of each catalog index (pg_stat_user_indexes.idx_scan).",
            labels=["index"],
        )
        for name, scans in sorted(self.indexes.items()):
            indexes.add_metric([name], scans)
        yield indexes
        table = CounterMetricFamily(
            "modelreg_catalog_table_scans",
            "Scans of the models table, sequential or through any index (pg_stat_user_tables).",
            labels=["kind"],
        )
        for kind, scans in sorted(self.table.items()):
            table.add_metric([kind], scans)
        yield table


INDEX_USAGE_COLLECTOR = IndexUsage()
REGISTRY.register(INDEX_USAGE_COLLECTOR)
