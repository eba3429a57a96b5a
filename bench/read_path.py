"""Benchmark modelreg's public read path against a minimal ASGI app serving the same bytes and
LiteLLM's proxy, side by side in one run (wrk, medians of interleaved runs, ratios).

    .venv/bin/python bench/read_path.py [--sizes 20,2000] [--duration S] [--output FILE]

See bench/README.md for the options and what the figures mean.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

import catalog_data
import harness
from harness import (
    MB,
    Report,
    Server,
    ServerFailed,
    Target,
    WrkResult,
    fmt,
    fmt_rate,
    fmt_ratio,
    log,
    median,
    ratio,
    rounded,
)
from setup_tools import LITELLM_VENV, Litellm, SetupFailed, ensure_litellm, ensure_wrk

SERVERS: tuple[str, ...] = ("minimal", "modelreg", "litellm")
LABELS = {"minimal": "(a) minimal", "modelreg": "(b) modelreg", "litellm": "(c) LiteLLM"}
ENDPOINTS: tuple[str, ...] = ("list", "model")
ENDPOINT_LABELS = {"list": "GET /v1/models", "model": "GET /v1/models/{id}"}
# The ratios every table and the JSON report: (server, reference, column label).
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("modelreg", "minimal", "b ÷ a"),
    ("litellm", "minimal", "c ÷ a"),
    ("modelreg", "litellm", "b ÷ c"),
)

# Targets.
TARGET_THROUGHPUT_RATIO = 0.8  # modelreg req/s >= 0.8 x the minimal app's, at every size
TARGET_P99_MS = 10.0  # modelreg p99 at 32 connections
TARGET_P99_CONNECTIONS = 32
TARGET_RSS_MB = 150.0  # per worker, at the largest catalog
TARGET_READY_S = 2.0  # process start to first 200, at the largest catalog

# Few enough that a server which cannot keep up has only a short backlog after the warm-up.
WARMUP_CONNECTIONS = 8


# --------------------------------------------------------------------------------------------
# The servers under test


@dataclass
class Contender:
    """One server of the comparison, or why it is not part of this run."""

    name: str
    server: Server | None = None
    unavailable: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # endpoint -> path it serves
    body_bytes: dict[str, int] = field(default_factory=dict)

    def url(self, endpoint: str) -> str:
        assert self.server is not None
        return f"http://{harness.LOOPBACK}:{self.server.port}{self.paths[endpoint]}"


# What the minimal app sends besides its server's own headers, as modelreg sent it.
RECORDED_HEADERS = ("content-type", "etag", "vary", "deprecation", "sunset", "link", "x-request-id")


def record(server: Server, paths: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What modelreg answers on each path: status, body and its headers but the server's own
    (date, server, content-length, which the minimal app's server adds): the minimal app then
    sends the same bytes, X-Request-ID included (one recorded id, of the same length)."""
    recorded: dict[str, dict[str, Any]] = {}
    for path in paths.values():
        reply = harness.http_request(server.port, "GET", path)
        if reply.status != 200:
            raise ServerFailed(
                f"modelreg answered {path} with {reply.status}: {reply.body[:300]!r}"
            )
        kept = [[name, value] for name, value in reply.headers.items() if name in RECORDED_HEADERS]
        recorded[path] = {
            "status": reply.status,
            "headers": kept,
            "body_b64": base64.b64encode(reply.body).decode(),
        }
    return recorded


def served_and_target(
    models: Sequence[catalog_data.SyntheticModel],
) -> tuple[list[catalog_data.SyntheticModel], catalog_data.SyntheticModel]:
    """The models the public list serves, and the one `GET /v1/models/{id}` asks for: an
    active one from the middle."""
    served = [m for m in models if m.served]
    active = [m for m in served if not m.is_legacy]
    return served, active[len(active) // 2]


def litellm_config(models: Sequence[catalog_data.SyntheticModel]) -> str:
    """config.yaml for LiteLLM's proxy: the served models, each an OpenAI-style deployment."""
    lines = ["model_list:"]
    for m in models:
        lines += [
            f"  - model_name: {m.id}",
            "    litellm_params:",
            f"      model: openai/{m.id}",
            "      api_key: dummy",
        ]
    lines += ["litellm_settings:", "  telemetry: false", "general_settings: {}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# One catalog size


@dataclass(frozen=True)
class Run:
    size: int
    endpoint: str
    connections: int
    server: str
    repeat: int
    result: WrkResult
    idle_wait_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "endpoint": ENDPOINT_LABELS[self.endpoint],
            "connections": self.connections,
            "server": self.server,
            "repeat": self.repeat,
            "idle_wait_s": round(self.idle_wait_s, 2),
            **self.result.as_dict(),
        }


@dataclass
class SizeResult:
    size: int
    served: int
    model_id: str
    contenders: dict[str, Contender]
    runs: list[Run] = field(default_factory=list)
    ready_s: dict[str, float | None] = field(default_factory=dict)
    rss_after_mb: dict[str, float | None] = field(default_factory=dict)
    rss_max_mb: dict[str, float | None] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)


class SizeBench:
    def __init__(
        self, args: argparse.Namespace, admin: URL, size: int, litellm: Litellm, workdir: Path
    ) -> None:
        self.args = args
        self.admin = admin
        self.size = size
        self.litellm = litellm
        self.workdir = workdir / f"size-{size}"
        self.workdir.mkdir(parents=True, exist_ok=True)

    def run(self) -> SizeResult:
        name = f"modelreg_bench_read_{os.getpid()}_{self.size}"
        with harness.fresh_database(self.admin, name) as url:
            served, target = served_and_target(catalog_data.load_catalog(url, self.size))
            contenders = {s: Contender(s) for s in SERVERS}
            result = SizeResult(self.size, len(served), target.id, contenders)
            try:
                self._start(url, served, target.id, result)
                self._measure(result)
            finally:
                for c in contenders.values():
                    if c.server is not None:
                        c.server.stop()
            return result

    # Start-up -------------------------------------------------------------------------------

    def _start(
        self,
        url: URL,
        served: list[catalog_data.SyntheticModel],
        model_id: str,
        result: SizeResult,
    ) -> None:
        paths = {"list": "/v1/models", "model": f"/v1/models/{model_id}"}
        timeout = self.args.ready_timeout
        c = result.contenders

        # (b) first: the reference serves what it answered.
        env = dict(kv.split("=", 1) for kv in self.args.modelreg_env)
        c["modelreg"].server = harness.start_modelreg(url, self.workdir, env=env)
        c["modelreg"].paths = paths
        result.ready_s["modelreg"] = c["modelreg"].server.wait_ready(paths["list"], timeout=timeout)
        log(f"{self.size} models: modelreg ready in {result.ready_s['modelreg']:.2f} s")
        recorded = record(c["modelreg"].server, paths)
        listed = json.loads(base64.b64decode(recorded[paths["list"]]["body_b64"]))
        if len(listed.get("data", [])) != len(served):
            result.checks.append(
                f"modelreg listed {len(listed.get('data', []))} models, expected {len(served)}"
            )
        responses = self.workdir / "responses.json"
        responses.write_text(json.dumps(recorded))

        # (a)
        c["minimal"].server = harness.start_uvicorn(
            "minimal",
            "minimal_app:create_app",
            self.workdir,
            {"MODELREG_BENCH_RESPONSES": str(responses)},
            "--factory",
            "--app-dir",
            str(harness.BENCH_DIR),
        )
        c["minimal"].paths = paths
        result.ready_s["minimal"] = c["minimal"].server.wait_ready(paths["list"], timeout=timeout)
        for endpoint, path in paths.items():
            mine = harness.http_request(c["minimal"].server.port, "GET", path).body
            theirs = base64.b64decode(recorded[path]["body_b64"])
            if mine != theirs:
                result.checks.append(f"minimal app's {path} differs from modelreg's")
            c["minimal"].body_bytes[endpoint] = len(mine)
            c["modelreg"].body_bytes[endpoint] = len(theirs)

        # (c)
        if not self.litellm.available:
            c["litellm"].unavailable = self.litellm.reason
        else:
            config = self.workdir / "litellm-config.yaml"
            config.write_text(litellm_config(served))
            key = f"sk-bench-{secrets.token_hex(16)}"
            c["litellm"].headers = {"Authorization": f"Bearer {key}"}
            c["litellm"].paths = {"list": "/v1/models"}
            try:
                c["litellm"].server = harness.start_uvicorn(
                    "litellm",
                    "litellm.proxy.proxy_server:app",
                    self.workdir,
                    {
                        "CONFIG_FILE_PATH": str(config),
                        "LITELLM_MASTER_KEY": key,
                        # The bundled model price map, not a download at start-up.
                        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                        "LITELLM_LOG": "ERROR",
                    },
                    python=str(self.litellm.python),
                )
                result.ready_s["litellm"] = c["litellm"].server.wait_ready(
                    "/v1/models", headers=c["litellm"].headers, timeout=timeout
                )
                reply = harness.http_request(
                    c["litellm"].server.port, "GET", "/v1/models", headers=c["litellm"].headers
                )
                c["litellm"].body_bytes["list"] = len(reply.body)
                listed_ids = len(json.loads(reply.body).get("data", []))
                if listed_ids != len(served):
                    result.checks.append(f"LiteLLM listed {listed_ids} models of {len(served)}")
            except (ServerFailed, OSError, ValueError) as exc:
                c["litellm"].unavailable = f"did not start: {str(exc)[:400]}"
                if c["litellm"].server is not None:
                    c["litellm"].server.stop()
                    c["litellm"].server = None
        for name in SERVERS:
            if c[name].unavailable:
                log(f"{self.size} models: {name} unavailable: {c[name].unavailable}")
            elif name != "modelreg":
                log(f"{self.size} models: {name} ready in {result.ready_s[name]:.2f} s")

    # Load -----------------------------------------------------------------------------------

    def _measure(self, result: SizeResult) -> None:
        c = result.contenders
        running = [c[s] for s in SERVERS if c[s].server is not None]
        for x in running:
            for endpoint in ENDPOINTS:
                if endpoint in x.paths and self.args.warmup > 0:
                    self._settle(running, result)
                    harness.run_wrk(
                        x.url(endpoint),
                        connections=WARMUP_CONNECTIONS,
                        duration_s=self.args.warmup,
                        threads=1,
                        headers=x.headers,
                    )
        total = self.args.repeats * len(self.args.connections) * sum(len(x.paths) for x in running)
        done = 0
        for repeat in range(1, self.args.repeats + 1):
            for connections in self.args.connections:
                for endpoint in ENDPOINTS:
                    for x in running:
                        if endpoint not in x.paths or x.server is None:
                            continue
                        if not x.server.alive():
                            result.checks.append(f"{x.name} exited during the load")
                            continue
                        waited = self._settle(running, result)
                        outcome = harness.run_wrk(
                            x.url(endpoint),
                            connections=connections,
                            duration_s=self.args.duration,
                            threads=self.args.threads,
                            headers=x.headers,
                        )
                        x.server.sample_rss()
                        result.runs.append(
                            Run(self.size, endpoint, connections, x.name, repeat, outcome, waited)
                        )
                        done += 1
                        log(
                            f"[{done}/{total}] {self.size} models, {x.name:8} "
                            f"{ENDPOINT_LABELS[endpoint]:22} c={connections:<3} "
                            f"{outcome.requests_per_s:10,.1f} req/s  p99 {fmt(outcome.p99_ms, 2)}"
                            f" ms" + (f"  errors {outcome.errors}" if outcome.errors else "")
                        )
        self._settle(running, result)
        for x in running:
            assert x.server is not None
            after = x.server.sample_rss()
            result.rss_after_mb[x.name] = None if after is None else after / MB
            samples = x.server.rss_samples
            result.rss_max_mb[x.name] = max(samples) / MB if samples else None

    def _settle(self, running: list[Contender], result: SizeResult) -> float:
        """Wait until every server is idle; restart one still working through a backlog after
        --idle-timeout. Returns the seconds spent."""
        started = time.perf_counter()
        for x in running:
            if x.server is None or not x.server.alive():
                continue
            idle, _ = harness.wait_idle([x.server], timeout=self.args.idle_timeout)
            if idle:
                continue
            log(
                f"{self.size} models: {x.name} still busy {self.args.idle_timeout:g} s after its"
                " run (a backlog of requests wrk gave up on); restarting it"
            )
            x.server.sample_rss()
            try:
                x.server.restart(timeout=self.args.ready_timeout)
            except ServerFailed as exc:
                result.checks.append(f"{x.name} did not come back after a restart: {exc}")
                continue
            if self.args.warmup > 0:
                for endpoint in x.paths:
                    harness.run_wrk(
                        x.url(endpoint),
                        connections=1,
                        duration_s=self.args.warmup,
                        threads=1,
                        headers=x.headers,
                    )
        return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class Cell:
    """The median over the repeats of one (size, endpoint, connections, server)."""

    runs: int
    requests_per_s: float | None
    p50_ms: float | None
    p99_ms: float | None
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_per_s": rounded(self.requests_per_s, 2),
            "p50_ms": rounded(self.p50_ms),
            "p99_ms": rounded(self.p99_ms),
            "runs": self.runs,
            "errors": self.errors,
        }


def cell(result: SizeResult, endpoint: str, connections: int, server: str) -> Cell | None:
    runs = [
        r.result
        for r in result.runs
        if r.endpoint == endpoint and r.connections == connections and r.server == server
    ]
    if not runs:
        return None
    return Cell(
        runs=len(runs),
        requests_per_s=median([r.requests_per_s for r in runs]),
        p50_ms=median([r.p50_ms for r in runs]),
        p99_ms=median([r.p99_ms for r in runs]),
        errors=sum(r.errors for r in runs),
    )


@dataclass(frozen=True)
class Comparison:
    """One row of the tables: every server's cell for (size, endpoint, connections)."""

    result: SizeResult
    endpoint: str
    connections: int
    cells: dict[str, Cell | None]

    def value(self, server: str, attr: str) -> float | None:
        found = self.cells[server]
        return None if found is None else getattr(found, attr)

    def ratios(self, attr: str) -> list[float | None]:
        """`attr` of each pair in PAIRS, divided."""
        return [ratio(self.value(a, attr), self.value(b, attr)) for a, b, _ in PAIRS]

    def shown(self, server: str, text: str) -> str:
        if self.result.contenders[server].unavailable:
            return "unavailable"
        found = self.cells[server]
        if found is None:
            return "n/a"
        return f"{text} ({found.errors} err)" if found.errors else text

    def head(self) -> list[str]:
        return [f"{self.result.size:,}", ENDPOINT_LABELS[self.endpoint], str(self.connections)]


def comparisons(result: SizeResult, connections: Sequence[int]) -> list[Comparison]:
    return [
        Comparison(result, e, c, {s: cell(result, e, c, s) for s in SERVERS})
        for e in ENDPOINTS
        for c in connections
    ]


def targets(results: Sequence[SizeResult], connections: Sequence[int]) -> list[Target]:
    out: list[Target] = []
    for r in results:
        found = [(x.ratios("requests_per_s")[0], x) for x in comparisons(r, connections)]
        known = [
            (v, f"{ENDPOINT_LABELS[x.endpoint]}, c={x.connections}")
            for v, x in found
            if v is not None
        ]
        worst = min(known) if known else None
        out.append(
            Target(
                f"modelreg req/s ≥ {TARGET_THROUGHPUT_RATIO}x minimal, {r.size:,} models",
                "—" if worst is None else f"lowest {fmt_ratio(worst[0])} ({worst[1]})",
                None
                if worst is None or len(known) < len(found)
                else worst[0] >= TARGET_THROUGHPUT_RATIO,
            )
        )
    for r in results:
        if TARGET_P99_CONNECTIONS not in connections:
            continue
        at = comparisons(r, [TARGET_P99_CONNECTIONS])
        p99s = [(x.value("modelreg", "p99_ms"), ENDPOINT_LABELS[x.endpoint]) for x in at]
        known_p99 = [(v, e) for v, e in p99s if v is not None]
        highest = max(known_p99) if known_p99 else None
        out.append(
            Target(
                f"modelreg p99 < {TARGET_P99_MS:g} ms at {TARGET_P99_CONNECTIONS} connections,"
                f" {r.size:,} models",
                "—" if highest is None else f"highest {fmt(highest[0], 2)} ms ({highest[1]})",
                None
                if highest is None or len(known_p99) < len(p99s)
                else highest[0] < TARGET_P99_MS,
            )
        )
    if results:
        largest = max(results, key=lambda x: x.size)
        rss = largest.rss_max_mb.get("modelreg")
        ready = largest.ready_s.get("modelreg")
        out += [
            Target(
                f"modelreg RSS < {TARGET_RSS_MB:g} MB (1 worker), {largest.size:,} models",
                "—" if rss is None else f"{fmt(rss)} MB (max after a load)",
                None if rss is None else rss < TARGET_RSS_MB,
            ),
            Target(
                f"modelreg ready < {TARGET_READY_S:g} s, {largest.size:,} models",
                "—" if ready is None else f"{fmt(ready, 2)} s",
                None if ready is None else ready < TARGET_READY_S,
            ),
        ]
    return out


def render(results: Sequence[SizeResult], args: argparse.Namespace, env: dict[str, Any]) -> Report:
    report = Report("Read path: modelreg vs. a minimal ASGI app vs. LiteLLM's proxy")
    report.text(
        f"wrk -t{args.threads} --latency, {args.duration:g} s per run after a {args.warmup:g} s"
        f" warm-up, {args.repeats} run(s) per cell, servers interleaved; every figure is the"
        f" median over the runs. One uvicorn worker each (uvloop, httptools): modelreg as"
        f" `modelreg serve` starts it, its JSON access log on (its default); the others without"
        f" an access log."
        f" {env['cpus']} CPUs, Python {env['python']}, uvicorn {env['uvicorn']},"
        f" {env['wrk']}, LiteLLM {env['litellm'] or 'unavailable'}. Load average"
        f" {env['load_before']} before the run, {env['load_after']} after it."
    )
    rows = [x for r in results for x in comparisons(r, args.connections)]
    report.section("Throughput (requests/s, median)")
    report.table(
        ["models", "endpoint", "conns", *(LABELS[s] for s in SERVERS), *(p[2] for p in PAIRS)],
        [
            [
                *x.head(),
                *(x.shown(s, fmt_rate(x.value(s, "requests_per_s"))) for s in SERVERS),
                *map(fmt_ratio, x.ratios("requests_per_s")),
            ]
            for x in rows
        ],
    )
    report.section("Latency (ms, median of each run's p50 / p99)")
    report.table(
        [
            "models",
            "endpoint",
            "conns",
            *(f"{LABELS[s]} p50 / p99" for s in SERVERS),
            *(f"p99 {p[2]}" for p in PAIRS),
        ],
        [
            [
                *x.head(),
                *(
                    x.shown(s, f"{fmt(x.value(s, 'p50_ms'), 2)} / {fmt(x.value(s, 'p99_ms'), 2)}")
                    for s in SERVERS
                ),
                *map(fmt_ratio, x.ratios("p99_ms")),
            ]
            for x in rows
        ],
    )
    report.section("Start-up, memory, response size")
    table: list[list[str]] = []
    for r in results:
        for s in SERVERS:
            x = r.contenders[s]
            if x.unavailable:
                table.append([f"{r.size:,}", LABELS[s], "unavailable", "", "", "", "", ""])
                continue
            ready, rss = r.ready_s.get(s), r.rss_max_mb.get(s)
            table.append(
                [
                    f"{r.size:,}",
                    LABELS[s],
                    f"{fmt(ready, 2)} s",
                    fmt_ratio(ratio(ready, r.ready_s.get("minimal"))),
                    f"{fmt(rss)} MB",
                    fmt_ratio(ratio(rss, r.rss_max_mb.get("minimal"))),
                    " / ".join(
                        f"{x.body_bytes[e] / 1024:,.1f} KB" for e in ENDPOINTS if e in x.body_bytes
                    ),
                    str(sum(run.result.errors for run in r.runs if run.server == s)),
                ]
            )
    report.table(
        "models | server | ready in | ÷ minimal | RSS after load (max) | ÷ minimal"
        " | body: list / by id | errors",
        table,
    )
    report.add_targets(targets(results, args.connections))
    notes: list[str] = []
    for r in results:
        for s in SERVERS:
            if r.contenders[s].unavailable:
                notes.append(f"{LABELS[s]} at {r.size:,} models: {r.contenders[s].unavailable}")
            if restarts := _restarts(r.contenders[s]):
                notes.append(
                    f"{LABELS[s]} at {r.size:,} models was restarted {restarts}"
                    f" time(s): still busy {args.idle_timeout:g} s after a run, working through"
                    " requests wrk had given up on"
                )
        notes += [f"{r.size:,} models: {check}" for check in r.checks]
    if any(r.contenders["litellm"].server is not None or r.ready_s.get("litellm") for r in results):
        notes.append(
            "LiteLLM serves only GET /v1/models here, and its list carries id, object, created"
            " and owned_by only: a far smaller body than modelreg's (see the sizes above)."
        )
    notes.append(
        "errors = non-2xx/3xx responses plus socket errors (connect, read, write, timeout) over"
        " all runs; wrk's timeout is the run's duration, so a response slower than that is a"
        " timeout."
    )
    report.notes(notes)
    return report


def _restarts(contender: Contender) -> int:
    return len(contender.server.restarts) if contender.server is not None else 0


def as_json(results: Sequence[SizeResult], args: argparse.Namespace) -> dict[str, Any]:
    def ratios(x: Comparison, attr: str) -> dict[str, float | None]:
        values = x.ratios(attr)
        return {f"{a}/{b}": rounded(v) for (a, b, _), v in zip(PAIRS, values, strict=True)}

    sizes: list[dict[str, Any]] = []
    for r in results:
        sizes.append(
            {
                "models": r.size,
                "served_models": r.served,
                "model_id": r.model_id,
                "servers": {
                    s: {
                        "unavailable": r.contenders[s].unavailable,
                        "ready_s": rounded(r.ready_s.get(s)),
                        "rss_after_mb": rounded(r.rss_after_mb.get(s), 1),
                        "rss_max_mb": rounded(r.rss_max_mb.get(s), 1),
                        "body_bytes": r.contenders[s].body_bytes,
                        "restarts": _restarts(r.contenders[s]),
                    }
                    for s in SERVERS
                },
                "cells": [
                    {
                        "endpoint": ENDPOINT_LABELS[x.endpoint],
                        "connections": x.connections,
                        "median": {s: c and c.as_dict() for s, c in x.cells.items()},
                        "ratios": {
                            "requests_per_s": ratios(x, "requests_per_s"),
                            "p99": ratios(x, "p99_ms"),
                        },
                    }
                    for x in comparisons(r, args.connections)
                ],
                "runs": [run.as_dict() for run in r.runs],
                "checks": r.checks,
            }
        )
    return {
        "benchmark": "read_path",
        "settings": {
            "sizes": args.sizes,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "threads": args.threads,
        },
        "sizes": sizes,
    }


# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.arguments(__doc__)
    add = parser.add_argument
    add("--sizes", type=harness.int_list, default=[20, 2000], help="catalog sizes (20,2000)")
    add("--connections", type=harness.int_list, default=[32, 128], help="wrk connections")
    add("--duration", type=float, default=15.0, help="seconds per wrk run")
    add("--warmup", type=float, default=5.0, help="seconds of warm-up per server and endpoint")
    add("--repeats", type=int, default=3, help="runs per cell (median taken)")
    add("--threads", type=int, default=2, help="wrk threads")
    add("--no-litellm", action="store_true", help="leave LiteLLM out (reported as unavailable)")
    add("--litellm-venv", type=Path, default=LITELLM_VENV, help="LiteLLM's own virtualenv")
    add("--ready-timeout", type=float, default=120.0, help="seconds a server may take to start")
    add(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds a server may stay busy after a run before it is restarted",
    )
    add(
        "--modelreg-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra environment variable for the modelreg server (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.duration < 1:
        parser.error("--duration must be at least 1")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if any("=" not in kv for kv in args.modelreg_env):
        parser.error("--modelreg-env takes KEY=VALUE")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ensure_wrk()
    except SetupFailed as exc:
        log(f"cannot run: {exc}")
        return 2
    if args.no_litellm:
        litellm = Litellm(None, None, "left out (--no-litellm)")
    else:
        litellm = ensure_litellm(args.litellm_venv)
        if not litellm.available:
            log(f"LiteLLM unavailable: {litellm.reason}")
    admin, env = harness.start(
        args.database_url,
        wrk=harness.wrk_version(),
        litellm=litellm.version,
        litellm_unavailable=litellm.reason,
    )
    started = time.perf_counter()
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-read-") as tmp:
        for size in args.sizes:
            results.append(SizeBench(args, admin, size, litellm, Path(tmp)).run())
    env["wall_s"] = round(time.perf_counter() - started, 1)
    env["load_after"] = harness.load_average()
    return harness.finish(args, render(results, args, env), as_json(results, args), env)


if __name__ == "__main__":
    sys.exit(main())
