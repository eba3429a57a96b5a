"""Benchmark filtered model lists on a large catalog: the public list in memory (through the
app in this process) and the admin list in PostgreSQL, with the plan it runs.

    .venv/bin/python bench/filtered.py [--models N] [--queries N] [--output FILE]

See bench/README.md for the options and what the figures mean.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psutil
import psycopg
from sqlalchemy.engine import URL

import catalog_data
import harness
from harness import Report, Summary, fmt, fmt_ratio, log, ratio
from modelreg.config import get_settings
from modelreg.db.engine import sync_engine
from modelreg.db.urls import libpq_conninfo

TIER = "pro"
CAPABILITY = "vision"
MAX_CREDITS = Decimal("5")
FILTERS = f"tier={TIER}&capability={CAPABILITY}&max_credits_per_1k={MAX_CREDITS}"
ADMIN_UNFILTERED = "GET /admin/v1/models (no filter, limit 100)"
SELECT1 = "SELECT 1 (psycopg round trip)"


@dataclass
class Series:
    name: str
    group: str  # "public" or "admin"
    reference: str | None  # the series its p50 is divided by
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    body_bytes: int | None = None
    matched: int | None = None
    stopped_by_budget: bool = False
    unavailable: str | None = None

    @property
    def summary(self) -> Summary:
        return Summary.of(self.latencies_ms)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "reference": self.reference,
            **self.summary.as_dict(),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "body_bytes": self.body_bytes,
            "matched": self.matched,
            "stopped_by_budget": self.stopped_by_budget,
            "unavailable": self.unavailable,
        }


def timed(series: Series, queries: int, budget_s: float, call: Callable[[int], object]) -> Series:
    """Time `call(i)` into `series`: up to `queries` times, or until `budget_s` is spent."""
    started = time.perf_counter()
    series.latencies_ms, series.stopped_by_budget = harness.timed(call, queries, budget_s)
    log(
        f"{series.name}: {series.summary.count} in {time.perf_counter() - started:.1f} s,"
        f" p50 {fmt(series.summary.p50_ms, 2)} ms"
    )
    return series


# --------------------------------------------------------------------------------------------
# (i) and (ii) through the app


@dataclass
class AppFigures:
    start_s: float
    rss_before_mb: float  # this process before the app started
    rss_mb: float  # and after (the snapshot loaded)
    gc_full_ms: float  # one full garbage collection with the app loaded (nothing to free)
    gc_objects: int  # objects the collector tracks then
    series: list[Series]


def _distinct_filters(i: int) -> str:
    """The benchmark's filters with a max_credits_per_1k that differs per query (5.000, 5.001,
    ...): the same selection, but a query string the response cache has not seen."""
    return (
        f"tier={TIER}&capability={CAPABILITY}&max_credits_per_1k={MAX_CREDITS + Decimal(i) / 1000}"
    )


def through_app(args: argparse.Namespace, url: URL, model_id: str, token: str) -> AppFigures:
    os.environ["MODELREG_DATABASE_URL"] = harness.url_text(url)
    get_settings.cache_clear()
    from fastapi.testclient import TestClient

    from modelreg.app import create_app

    q, budget = args.queries, args.time_budget
    gc.collect()
    rss_before_mb = psutil.Process().memory_info().rss / harness.MB
    started = time.perf_counter()
    app = create_app()
    with TestClient(app) as client:
        start_s = time.perf_counter() - started
        log(f"app started (snapshot of {args.models:,} models loaded) in {start_s:.1f} s")
        rss_mb = psutil.Process().memory_info().rss / harness.MB
        gc.collect()  # the start-up's garbage; then time a collection with nothing to free
        gc_objects = len(gc.get_objects())
        t0 = time.perf_counter()
        gc.collect()
        gc_full_ms = (time.perf_counter() - t0) * 1000
        log(f"a full garbage collection over {gc_objects:,} objects took {gc_full_ms:.0f} ms")

        def get(series: Series, path: str, headers: dict[str, str] | None = None) -> None:
            # Uncompressed, as the earlier runs measured (the test client asks for gzip unless
            # told otherwise, and would then time its own decompression too).
            response = client.get(path, headers={"Accept-Encoding": "identity", **(headers or {})})
            series.statuses[response.status_code] = series.statuses.get(response.status_code, 0) + 1
            if series.body_bytes is None:
                series.body_bytes = len(response.content)
                if response.status_code == 200:
                    data = response.json().get("data")
                    series.matched = len(data) if isinstance(data, list) else None

        out: list[Series] = []

        def run(series: Series, path_of: Callable[[int], str], **kw: Any) -> None:
            get(series, path_of(0), **kw)  # warm-up (and the matched count)
            out.append(timed(series, q, budget, lambda i: get(series, path_of(i + 1), **kw)))

        run(Series("GET /healthz", "public", None), lambda i: "/healthz")
        run(
            Series("GET /v1/models/{id}", "public", "GET /healthz"),
            lambda i: f"/v1/models/{model_id}",
        )
        run(
            Series("GET /v1/models?<filters>, distinct queries", "public", "GET /healthz"),
            lambda i: f"/v1/models?{_distinct_filters(i)}",
        )
        run(
            Series("GET /v1/models?<filters>, same query", "public", "GET /healthz"),
            lambda i: f"/v1/models?{FILTERS}",
        )
        run(
            Series("GET /v1/models?<filters>&limit=100, distinct", "public", "GET /healthz"),
            lambda i: f"/v1/models?{_distinct_filters(i)}&limit=100",
        )
        out.append(selection_alone(app, args))

        auth = {"Authorization": f"Bearer {token}"}
        run(
            Series(ADMIN_UNFILTERED, "admin", SELECT1),
            lambda i: "/admin/v1/models",
            headers=auth,
        )
        run(
            Series("GET /admin/v1/models?<filters> (limit 100)", "admin", ADMIN_UNFILTERED),
            lambda i: f"/admin/v1/models?{FILTERS}",
            headers=auth,
        )
    get_settings.cache_clear()
    return AppFigures(start_s, rss_before_mb, rss_mb, gc_full_ms, gc_objects, out)


def selection_alone(app: Any, args: argparse.Namespace) -> Series:
    """`select_models` over the app's current snapshot, with no HTTP and no JSON."""
    series = Series("select_models(...) alone, in memory", "public", "GET /healthz")
    try:
        from modelreg.listing import ListParams
        from modelreg.public.filters import select_models

        view = app.state.snapshot.view()
        settings = get_settings()
        margin = settings.tier_margin(TIER)

        def select(i: int) -> None:
            params = ListParams(
                tier=TIER,
                capabilities=(CAPABILITY,),
                max_credits_per_1k=MAX_CREDITS + Decimal(i) / 1000,
            )
            page = select_models(view.models, params, tiers=settings.tiers, margin=margin)
            if series.matched is None:
                series.matched = len(page.items)

        select(0)
    except (ImportError, AttributeError, TypeError, RuntimeError) as exc:
        series.unavailable = f"{type(exc).__name__}: {exc}"
        return series
    return timed(series, args.queries, args.time_budget, select)


def select1(args: argparse.Namespace, url: URL) -> Series:
    series = Series(SELECT1, "admin", None)
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("SELECT 1")
        return timed(series, args.queries, args.time_budget, lambda i: conn.execute("SELECT 1"))


# --------------------------------------------------------------------------------------------
# (ii) the plan


@dataclass
class Plan:
    sql: str
    plan: dict[str, Any]
    analyzed: dict[str, Any]

    def indexes(self) -> list[str]:
        return sorted({n["Index Name"] for n in _nodes(self.plan) if "Index Name" in n})

    def analyzed_ms(self) -> float | None:
        value = self.analyzed.get("Execution Time")
        return float(value) if value is not None else None


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _tree(node: dict[str, Any], depth: int = 0) -> Iterator[str]:
    parts = [node["Node Type"]]
    if "Index Name" in node:
        parts.append(f"using {node['Index Name']}")
    if "Relation Name" in node:
        parts.append(f"on {node['Relation Name']}")
    detail = f"rows≈{node.get('Plan Rows')}"
    if "Actual Rows" in node:
        detail += f", actual rows {node['Actual Rows']} x {node.get('Actual Loops', 1)} loops"
        detail += f", {node.get('Actual Total Time')} ms"
    for key in ("Index Cond", "Recheck Cond", "Filter"):
        if key in node:
            detail += f"; {key.lower()}: {node[key]}"
    yield "  " * depth + "-> " + " ".join(parts) + f" ({detail})"
    for child in node.get("Plans", []):
        yield from _tree(child, depth + 1)


def explain(url: URL) -> Plan:
    """The admin list's SQL for the benchmark's filters (as `list_models_page` builds it: sorted
    by id, one row more than the page), with literal values, and its plans."""
    from modelreg.catalog import repository

    settings = get_settings()
    query = repository.admin_query(
        capabilities=(CAPABILITY,),
        tier=TIER,
        tiers=settings.tiers,
        max_credits_per_1k=MAX_CREDITS,
        limit=101,
    )
    sql = str(
        query.compile(dialect=sync_engine(url).dialect, compile_kwargs={"literal_binds": True})
    )
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
        analyzed = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
    assert row is not None
    assert analyzed is not None
    return Plan(sql, row[0][0]["Plan"], {**analyzed[0][0]["Plan"], **_top(analyzed[0][0])})


def _top(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k in ("Planning Time", "Execution Time")}


# --------------------------------------------------------------------------------------------
# Report


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n} B" if n < 1024 else f"{n / 1024:,.1f} KB"


def render(
    args: argparse.Namespace,
    env: dict[str, Any],
    figures: AppFigures,
    series: Sequence[Series],
    plan: Plan,
) -> Report:
    by_name = {s.name: s for s in series}
    report = Report(f"Filtered lists on {args.models:,} models")
    report.text(
        f"Filters: `{FILTERS}`. In-process app (TestClient over `create_app()`), up to"
        f" {args.queries} requests per row or {args.time_budget:g} s. App start-up (snapshot"
        f" load) {figures.start_s:.1f} s; process RSS {figures.rss_before_mb:,.0f} MB before it,"
        f" {figures.rss_mb:,.0f} MB after it (+{figures.rss_mb - figures.rss_before_mb:,.0f} MB"
        f" for the app). One full garbage collection then: {figures.gc_full_ms:,.0f} ms over"
        f" {figures.gc_objects:,} tracked objects."
        f" {env['cpus']} CPUs, Python {env['python']}; load average {env['load_before']}"
        f" before, {env['load_after']} after."
    )
    for group, title in (("public", "(i) Public list, in process"), ("admin", "(ii) Admin list")):
        report.section(title)
        rows: list[list[str]] = []
        for s in series:
            if s.group != group:
                continue
            if s.unavailable:
                rows.append([s.name, "unavailable", s.unavailable, "", "", "", "", ""])
                continue
            summary = s.summary
            ref = by_name.get(s.reference) if s.reference else None
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(s.statuses.items())) or "—"
            rows.append(
                [
                    s.name,
                    f"{summary.count}" + (" (time budget)" if s.stopped_by_budget else ""),
                    fmt(summary.p50_ms, 3),
                    fmt(summary.p99_ms, 3),
                    fmt_ratio(_p50_ratio(s, by_name)) + (f" ({s.reference})" if ref else ""),
                    "—" if s.matched is None else f"{s.matched:,}",
                    _size(s.body_bytes),
                    statuses,
                ]
            )
        report.table(
            "request | count | p50 ms | p99 ms | p50 ÷ reference | models | body | statuses",
            rows,
        )
    report.section("(ii) The admin list's SQL and its plan")
    report.text("```sql\n" + plan.sql.strip() + "\n```")
    report.text(
        f"Indexes in the plan: {', '.join(plan.indexes()) or 'none (sequential scan)'}."
        f" EXPLAIN ANALYZE: planning {fmt(plan.analyzed.get('Planning Time'), 3)} ms,"
        f" execution {fmt(plan.analyzed_ms(), 3)} ms."
    )
    report.text("```\n" + "\n".join(_tree(plan.analyzed)) + "\n```")
    return report


def _p50_ratio(s: Series, by_name: dict[str, Series]) -> float | None:
    ref = by_name.get(s.reference) if s.reference else None
    return ratio(s.summary.p50_ms, ref.summary.p50_ms if ref else None)


def as_json(
    args: argparse.Namespace, figures: AppFigures, series: Sequence[Series], plan: Plan
) -> dict[str, Any]:
    by_name = {s.name: s for s in series}
    return {
        "benchmark": "filtered",
        "settings": {
            "models": args.models,
            "queries": args.queries,
            "time_budget_s": args.time_budget,
            "filters": FILTERS,
        },
        "app_start_s": round(figures.start_s, 3),
        "rss_before_start_mb": round(figures.rss_before_mb, 1),
        "rss_after_start_mb": round(figures.rss_mb, 1),
        "gc_full_collection_ms": round(figures.gc_full_ms, 1),
        "gc_tracked_objects": figures.gc_objects,
        "series": [
            {**s.as_dict(), "p50_ratio_to_reference": harness.rounded(_p50_ratio(s, by_name))}
            for s in series
        ],
        "admin_sql": plan.sql,
        "indexes_used": plan.indexes(),
        "explain": plan.plan,
        "explain_analyze": plan.analyzed,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.arguments(__doc__, strict=False)
    parser.add_argument("--models", type=int, default=100_000, help="catalog size")
    parser.add_argument("--queries", type=int, default=200, help="requests per series")
    parser.add_argument(
        "--time-budget", type=float, default=120.0, help="seconds at most per series"
    )
    args = parser.parse_args(argv)
    if args.models < 20:
        parser.error("--models must be at least 20")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    admin, env = harness.start(args.database_url)
    started = time.perf_counter()
    with harness.fresh_database(admin, f"modelreg_bench_filtered_{os.getpid()}") as url:
        models = catalog_data.load_catalog(url, args.models)
        model_id = next(m.id for m in models if m.served and not m.is_legacy)
        del models  # not to be counted in the app's memory
        token = harness.create_admin_token(url)
        figures = through_app(args, url, model_id, token)
        series = [*figures.series, select1(args, url)]
        plan = explain(url)
    env["wall_s"] = round(time.perf_counter() - started, 1)
    env["load_after"] = harness.load_average()
    report = render(args, env, figures, series, plan)
    return harness.finish(args, report, as_json(args, figures, series, plan), env)


if __name__ == "__main__":
    sys.exit(main())
