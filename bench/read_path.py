"""Benchmark modelreg's public read path against two references, side by side in one run.

For each catalog size (20 and 2,000 models by default) a fresh database is filled with synthetic
models, and three servers are started under the same uvicorn (1 worker, uvloop, httptools, no
access log) on free loopback ports:

  (a) minimal:  a bare ASGI app serving the exact bytes modelreg returned (bench/minimal_app.py),
                the cost of serving these responses at all;
  (b) modelreg: `modelreg.app:create_app` over the benchmark database;
  (c) LiteLLM:  LiteLLM's proxy with the same models in its config.yaml, no database
                (GET /v1/models only).

wrk then loads GET /v1/models and GET /v1/models/{id} at 32 and 128 connections, repeating every
measurement (servers interleaved a, b, c, a, b, c, ...), and the medians are reported next to
their ratios to the minimal app and to LiteLLM.

    .venv/bin/python bench/read_path.py                                   # the full run
    .venv/bin/python bench/read_path.py --duration 3 --repeats 1          # a quick one
    .venv/bin/python bench/read_path.py --output docs/benchmarks-read-path.json

See bench/README.md for what the figures mean.
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
    BENCH_DIR,
    MB,
    Server,
    ServerFailed,
    WrkResult,
    fmt,
    fmt_rate,
    fmt_ratio,
    log,
    median,
    pass_fail,
    ratio,
    rounded,
    table,
)
from setup_tools import LITELLM_VENV, Litellm, SetupFailed, ensure_litellm, ensure_wrk

SERVERS: tuple[str, ...] = ("minimal", "modelreg", "litellm")
LABELS = {"minimal": "(a) minimal", "modelreg": "(b) modelreg", "litellm": "(c) LiteLLM"}
ENDPOINTS: tuple[str, ...] = ("list", "model")
ENDPOINT_LABELS = {"list": "GET /v1/models", "model": "GET /v1/models/{id}"}
RPS_RATIOS = ("b ÷ a", "c ÷ a", "b ÷ c")
P99_RATIOS = ("p99 b ÷ a", "p99 c ÷ a", "p99 b ÷ c")

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


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def start_modelreg(url: URL, workdir: Path, extra_env: dict[str, str], name: str) -> Server:
    port = harness.free_port()
    server = Server(
        name=name,
        argv=harness.uvicorn_argv(sys.executable, "modelreg.app:create_app", port, "--factory"),
        port=port,
        env=server_env(MODELREG_DATABASE_URL=harness.url_text(url), **extra_env),
        cwd=workdir,
        log_path=workdir / f"{name}.log",
    )
    server.start()
    return server


def record(server: Server, paths: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What modelreg answers on each path: status, content headers and body."""
    recorded: dict[str, dict[str, Any]] = {}
    for path in paths.values():
        reply = harness.http_request(server.port, "GET", path)
        if reply.status != 200:
            raise ServerFailed(
                f"modelreg answered {path} with {reply.status}: {reply.body[:300]!r}"
            )
        kept = [
            [name, value]
            for name, value in reply.headers.items()
            if name in ("content-type", "etag", "vary", "deprecation", "sunset", "link")
        ]
        recorded[path] = {
            "status": reply.status,
            "headers": kept,
            "body_b64": base64.b64encode(reply.body).decode(),
        }
    return recorded


def start_minimal(responses: Path, workdir: Path) -> Server:
    port = harness.free_port()
    server = Server(
        name="minimal",
        argv=harness.uvicorn_argv(
            sys.executable,
            "minimal_app:create_app",
            port,
            "--factory",
            "--app-dir",
            str(BENCH_DIR),
        ),
        port=port,
        env=server_env(MODELREG_BENCH_RESPONSES=str(responses)),
        cwd=workdir,
        log_path=workdir / "minimal.log",
    )
    server.start()
    return server


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


def start_litellm(litellm: Litellm, config: Path, master_key: str, workdir: Path) -> Server:
    assert litellm.python is not None
    port = harness.free_port()
    server = Server(
        name="litellm",
        argv=harness.uvicorn_argv(str(litellm.python), "litellm.proxy.proxy_server:app", port),
        port=port,
        env=server_env(
            CONFIG_FILE_PATH=str(config),
            LITELLM_MASTER_KEY=master_key,
            # The bundled model price map, not a download at start-up.
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            LITELLM_LOG="ERROR",
        ),
        cwd=workdir,
        log_path=workdir / "litellm.log",
    )
    server.start()
    return server


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
            models = catalog_data.load_catalog(url, self.size)
            served = [m for m in models if m.served]
            active = [m for m in served if not m.is_legacy]
            target = active[len(active) // 2]
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
        c["modelreg"].server = start_modelreg(url, self.workdir, env, "modelreg")
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
        c["minimal"].server = start_minimal(responses, self.workdir)
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
                c["litellm"].server = start_litellm(self.litellm, config, key, self.workdir)
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


def _get(c: Cell | None, attr: str) -> float | None:
    return None if c is None else getattr(c, attr)


def _server_cell(result: SizeResult, server: str, c: Cell | None, attr: str, digits: int) -> str:
    contender = result.contenders[server]
    if contender.unavailable:
        return "unavailable"
    if c is None:
        return "n/a"
    text = fmt_rate(c.requests_per_s) if attr == "requests_per_s" else fmt(getattr(c, attr), digits)
    return f"{text} ({c.errors} err)" if c.errors else text


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    ok: bool | None


def targets(results: Sequence[SizeResult], connections: Sequence[int]) -> list[Target]:
    out: list[Target] = []
    for r in results:
        worst: tuple[float, str] | None = None
        missing = False
        for endpoint in ENDPOINTS:
            for conns in connections:
                value = ratio(
                    _get(cell(r, endpoint, conns, "modelreg"), "requests_per_s"),
                    _get(cell(r, endpoint, conns, "minimal"), "requests_per_s"),
                )
                if value is None:
                    missing = True
                    continue
                where = f"{ENDPOINT_LABELS[endpoint]}, c={conns}"
                if worst is None or value < worst[0]:
                    worst = (value, where)
        out.append(
            Target(
                f"modelreg req/s ≥ {TARGET_THROUGHPUT_RATIO}x minimal, {r.size:,} models",
                "—" if worst is None else f"lowest {fmt_ratio(worst[0])} ({worst[1]})",
                None if worst is None or missing else worst[0] >= TARGET_THROUGHPUT_RATIO,
            )
        )
    for r in results:
        if TARGET_P99_CONNECTIONS not in connections:
            continue
        p99s = [
            (_get(cell(r, e, TARGET_P99_CONNECTIONS, "modelreg"), "p99_ms"), ENDPOINT_LABELS[e])
            for e in ENDPOINTS
        ]
        known = [(v, e) for v, e in p99s if v is not None]
        highest = max(known) if known else None
        out.append(
            Target(
                f"modelreg p99 < {TARGET_P99_MS:g} ms at {TARGET_P99_CONNECTIONS} connections,"
                f" {r.size:,} models",
                "—" if highest is None else f"highest {fmt(highest[0], 2)} ms ({highest[1]})",
                None if highest is None or len(known) < len(p99s) else highest[0] < TARGET_P99_MS,
            )
        )
    if results:
        largest = max(results, key=lambda x: x.size)
        rss = largest.rss_max_mb.get("modelreg")
        out.append(
            Target(
                f"modelreg RSS < {TARGET_RSS_MB:g} MB (1 worker), {largest.size:,} models",
                "—" if rss is None else f"{fmt(rss)} MB (max after a load)",
                None if rss is None else rss < TARGET_RSS_MB,
            )
        )
        ready = largest.ready_s.get("modelreg")
        out.append(
            Target(
                f"modelreg ready < {TARGET_READY_S:g} s, {largest.size:,} models",
                "—" if ready is None else f"{fmt(ready, 2)} s",
                None if ready is None else ready < TARGET_READY_S,
            )
        )
    return out


def render(results: Sequence[SizeResult], args: argparse.Namespace, env: dict[str, Any]) -> str:
    out: list[str] = []
    out.append("## Read path: modelreg vs. a minimal ASGI app vs. LiteLLM's proxy\n")
    out.append(
        f"wrk -t{args.threads} --latency, {args.duration:g} s per run after a {args.warmup:g} s"
        f" warm-up, {args.repeats} run(s) per cell, servers interleaved; every figure is the"
        f" median over the runs. One uvicorn worker each (uvloop, httptools, no access log)."
        f" {env['cpus']} CPUs, Python {env['python']}, uvicorn {env['uvicorn']},"
        f" {env['wrk']}, LiteLLM {env['litellm'] or 'unavailable'}. Load average"
        f" {env['load_before']} before the run, {env['load_after']} after it.\n"
    )
    out.append("### Throughput (requests/s, median)\n")
    rows: list[list[str]] = []
    for r in results:
        for endpoint in ENDPOINTS:
            for conns in args.connections:
                cells = {s: cell(r, endpoint, conns, s) for s in SERVERS}
                rps = {s: _get(cells[s], "requests_per_s") for s in SERVERS}
                rows.append(
                    [
                        f"{r.size:,}",
                        ENDPOINT_LABELS[endpoint],
                        str(conns),
                        *(_server_cell(r, s, cells[s], "requests_per_s", 0) for s in SERVERS),
                        fmt_ratio(ratio(rps["modelreg"], rps["minimal"])),
                        fmt_ratio(ratio(rps["litellm"], rps["minimal"])),
                        fmt_ratio(ratio(rps["modelreg"], rps["litellm"])),
                    ]
                )
    out.append(
        table(
            ["models", "endpoint", "conns", *(LABELS[s] for s in SERVERS), *RPS_RATIOS],
            rows,
        )
    )
    out.append("\n### Latency (ms, median of each run's p50 / p99)\n")
    rows = []
    for r in results:
        for endpoint in ENDPOINTS:
            for conns in args.connections:
                cells = {s: cell(r, endpoint, conns, s) for s in SERVERS}
                p99 = {s: _get(cells[s], "p99_ms") for s in SERVERS}
                row = [f"{r.size:,}", ENDPOINT_LABELS[endpoint], str(conns)]
                for s in SERVERS:
                    if r.contenders[s].unavailable or cells[s] is None:
                        row.append("unavailable" if r.contenders[s].unavailable else "n/a")
                    else:
                        row.append(f"{fmt(_get(cells[s], 'p50_ms'), 2)} / {fmt(p99[s], 2)}")
                row += [
                    fmt_ratio(ratio(p99["modelreg"], p99["minimal"])),
                    fmt_ratio(ratio(p99["litellm"], p99["minimal"])),
                    fmt_ratio(ratio(p99["modelreg"], p99["litellm"])),
                ]
                rows.append(row)
    out.append(
        table(
            [
                "models",
                "endpoint",
                "conns",
                *(f"{LABELS[s]} p50 / p99" for s in SERVERS),
                *P99_RATIOS,
            ],
            rows,
        )
    )
    out.append("\n### Start-up, memory, response size\n")
    rows = []
    for r in results:
        for s in SERVERS:
            x = r.contenders[s]
            if x.unavailable:
                rows.append([f"{r.size:,}", LABELS[s], "unavailable", "", "", "", "", ""])
                continue
            ready = r.ready_s.get(s)
            rss = r.rss_max_mb.get(s)
            errors = sum(run.result.errors for run in r.runs if run.server == s)
            rows.append(
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
                    str(errors),
                ]
            )
    out.append(
        table(
            [
                "models",
                "server",
                "ready in",
                "÷ minimal",
                "RSS after load (max)",
                "÷ minimal",
                "body: list / by id",
                "errors",
            ],
            rows,
        )
    )
    out.append("\n### Targets\n")
    out.append(
        table(
            ["target", "measured", "result"],
            [[t.name, t.measured, pass_fail(t.ok)] for t in targets(results, args.connections)],
        )
    )
    notes: list[str] = []
    for r in results:
        for s in SERVERS:
            if r.contenders[s].unavailable:
                notes.append(f"{LABELS[s]} at {r.size:,} models: {r.contenders[s].unavailable}")
            server = r.contenders[s].server
            if server is not None and server.restarts:
                notes.append(
                    f"{LABELS[s]} at {r.size:,} models was restarted {len(server.restarts)}"
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
    out.append("\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    return "\n".join(out)


def _restarts(contender: Contender) -> int:
    return len(contender.server.restarts) if contender.server is not None else 0


def _cell_dict(c: Cell | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "requests_per_s": rounded(c.requests_per_s, 2),
        "p50_ms": rounded(c.p50_ms),
        "p99_ms": rounded(c.p99_ms),
        "runs": c.runs,
        "errors": c.errors,
    }


def as_json(
    results: Sequence[SizeResult], args: argparse.Namespace, env: dict[str, Any]
) -> dict[str, Any]:
    sizes: list[dict[str, Any]] = []
    for r in results:
        cells: list[dict[str, Any]] = []
        for endpoint in ENDPOINTS:
            for conns in args.connections:
                found = {s: cell(r, endpoint, conns, s) for s in SERVERS}
                rps = {s: _get(found[s], "requests_per_s") for s in SERVERS}
                p99 = {s: _get(found[s], "p99_ms") for s in SERVERS}
                cells.append(
                    {
                        "endpoint": ENDPOINT_LABELS[endpoint],
                        "connections": conns,
                        "median": {s: _cell_dict(found[s]) for s in SERVERS},
                        "ratios": {
                            "requests_per_s": {
                                "modelreg/minimal": rounded(ratio(rps["modelreg"], rps["minimal"])),
                                "litellm/minimal": rounded(ratio(rps["litellm"], rps["minimal"])),
                                "modelreg/litellm": rounded(ratio(rps["modelreg"], rps["litellm"])),
                            },
                            "p99": {
                                "modelreg/minimal": rounded(ratio(p99["modelreg"], p99["minimal"])),
                                "litellm/minimal": rounded(ratio(p99["litellm"], p99["minimal"])),
                                "modelreg/litellm": rounded(ratio(p99["modelreg"], p99["litellm"])),
                            },
                        },
                    }
                )
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
                "cells": cells,
                "runs": [run.as_dict() for run in r.runs],
                "checks": r.checks,
            }
        )
    return {
        "benchmark": "read_path",
        "environment": env,
        "settings": {
            "sizes": args.sizes,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "threads": args.threads,
        },
        "sizes": sizes,
        "targets": [
            {"target": t.name, "measured": t.measured, "ok": t.ok}
            for t in targets(results, args.connections)
        ],
    }


# --------------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("every value must be at least 1")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", type=_ints, default=[20, 2000], help="catalog sizes (default: 20,2000)"
    )
    parser.add_argument(
        "--connections", type=_ints, default=[32, 128], help="wrk connections (default: 32,128)"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per wrk run")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of warm-up per server and endpoint"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (median taken)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use (default: MODELREG_BENCH_DATABASE_URL, else an"
        " embedded server in a temporary directory); a database per size is created and dropped",
    )
    parser.add_argument("--output", type=Path, help="also write every figure as JSON")
    parser.add_argument(
        "--no-litellm", action="store_true", help="leave LiteLLM out (reported as unavailable)"
    )
    parser.add_argument(
        "--litellm-venv", type=Path, default=LITELLM_VENV, help="LiteLLM's own virtualenv"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=120.0, help="seconds a server may take to start"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds a server may stay busy after a run before it is restarted",
    )
    parser.add_argument(
        "--modelreg-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra environment variable for the modelreg server (repeatable)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
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
    harness.stop_on_sigterm()
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
    admin, env = harness.server_and_environment(
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
    print(render(results, args, env), end="", flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(as_json(results, args, env), indent=2) + "\n")
        log(f"wrote {args.output}")
    if args.strict and not all(t.ok for t in targets(results, args.connections)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
