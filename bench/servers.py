"""Does granian pay? modelreg and the bare app, each under uvicorn and under granian, side by side
in one run (wrk, medians of interleaved runs, ratios).

    .venv/bin/python bench/servers.py [--size 20] [--duration S] [--repeats N] [--output FILE]

Four servers answer the same bytes: (a) the bare app and (b) modelreg under uvicorn, (c) the bare
app and (d) modelreg under granian; one worker each, the servers' own access logs off (modelreg
writes its own, as it does by default). The figures that answer the question: d ÷ b (modelreg
under granian against modelreg under uvicorn) and, for what the server itself is worth, c ÷ a.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import json
import os
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
    Report,
    Server,
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
from read_path import ENDPOINT_LABELS, ENDPOINTS, WARMUP_CONNECTIONS, record, served_and_target
from setup_tools import SetupFailed, ensure_wrk

# (app, server): the order of the columns and of every round of runs.
CONTENDERS: tuple[tuple[str, str], ...] = (
    ("minimal", "uvicorn"),
    ("modelreg", "uvicorn"),
    ("minimal", "granian"),
    ("modelreg", "granian"),
)
LABELS = {
    ("minimal", "uvicorn"): "(a) bare app, uvicorn",
    ("modelreg", "uvicorn"): "(b) modelreg, uvicorn",
    ("minimal", "granian"): "(c) bare app, granian",
    ("modelreg", "granian"): "(d) modelreg, granian",
}
# (numerator, denominator, column label)
PAIRS: tuple[tuple[tuple[str, str], tuple[str, str], str], ...] = (
    (("modelreg", "uvicorn"), ("minimal", "uvicorn"), "b ÷ a"),
    (("modelreg", "granian"), ("minimal", "granian"), "d ÷ c"),
    (("modelreg", "granian"), ("modelreg", "uvicorn"), "d ÷ b"),
    (("minimal", "granian"), ("minimal", "uvicorn"), "c ÷ a"),
)
PAYS = (("modelreg", "granian"), ("modelreg", "uvicorn"))


def name(contender: tuple[str, str]) -> str:
    return f"{contender[0]}-{contender[1]}"


@dataclass
class Results:
    size: int
    model_id: str
    runs: list[tuple[str, tuple[str, str], int, WrkResult]] = field(default_factory=list)
    body_bytes: dict[str, int] = field(default_factory=dict)
    ready_s: dict[str, float | None] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    def median(self, endpoint: str, contender: tuple[str, str], attr: str) -> float | None:
        values = [getattr(r, attr) for e, c, _, r in self.runs if e == endpoint and c == contender]
        return median(values) if values else None

    def ratio(self, endpoint: str, pair: tuple[tuple[str, str], tuple[str, str]]) -> float | None:
        a, b = pair
        return ratio(
            self.median(endpoint, a, "requests_per_s"), self.median(endpoint, b, "requests_per_s")
        )


def start(app: str, server: str, workdir: Path, url: URL, responses: Path) -> Server:
    """modelreg as `modelreg serve --server S` starts it; the bare app, answering `responses`,
    under the same server's command line."""
    if app == "modelreg":
        return harness.start_modelreg(url, workdir, name((app, server)), server=server)
    return harness.start_uvicorn(
        name((app, server)),
        "minimal_app:create_app",
        workdir,
        {"MODELREG_BENCH_RESPONSES": str(responses)},
        "--factory",
        "--app-dir",
        str(harness.BENCH_DIR),
        argv_for=harness.granian_argv if server == "granian" else harness.uvicorn_argv,
    )


def run(args: argparse.Namespace, admin: Any, workdir: Path) -> Results:
    servers: dict[tuple[str, str], Server] = {}
    with harness.fresh_database(admin, f"modelreg_bench_servers_{os.getpid()}") as url:
        _, target = served_and_target(catalog_data.load_catalog(url, args.size))
        results = Results(args.size, target.id)
        paths = {"list": "/v1/models", "model": f"/v1/models/{results.model_id}"}
        responses = workdir / "responses.json"
        try:
            first = ("modelreg", "uvicorn")
            servers[first] = start(*first, workdir, url, responses)
            results.ready_s[name(first)] = servers[first].wait_ready(paths["list"])
            recorded = record(servers[first], paths)
            responses.write_text(json.dumps(recorded))
            for contender in CONTENDERS:
                if contender in servers:
                    continue
                servers[contender] = start(*contender, workdir, url, responses)
                results.ready_s[name(contender)] = servers[contender].wait_ready(paths["list"])
            for contender, server in servers.items():
                for endpoint, path in paths.items():
                    body = harness.http_request(server.port, "GET", path).body
                    if body != base64.b64decode(recorded[path]["body_b64"]):
                        results.checks.append(f"{name(contender)}'s {path} differs from modelreg's")
                    results.body_bytes[endpoint] = len(body)
            measure(args, servers, paths, results)
        finally:
            for server in servers.values():
                server.stop()
    return results


def measure(
    args: argparse.Namespace,
    servers: dict[tuple[str, str], Server],
    paths: dict[str, str],
    results: Results,
) -> None:
    def url(contender: tuple[str, str], endpoint: str) -> str:
        return f"http://{harness.LOOPBACK}:{servers[contender].port}{paths[endpoint]}"

    for contender in CONTENDERS:
        for endpoint in ENDPOINTS:
            harness.run_wrk(
                url(contender, endpoint),
                connections=WARMUP_CONNECTIONS,
                duration_s=args.warmup,
                threads=1,
            )
    total = args.repeats * len(ENDPOINTS) * len(CONTENDERS)
    done = 0
    for repeat in range(1, args.repeats + 1):
        for endpoint in ENDPOINTS:
            for contender in CONTENDERS:
                server = servers[contender]
                if not server.alive():
                    results.checks.append(f"{name(contender)} exited during the load")
                    continue
                harness.wait_idle(list(servers.values()))
                outcome = harness.run_wrk(
                    url(contender, endpoint),
                    connections=args.connections,
                    duration_s=args.duration,
                    threads=args.threads,
                )
                results.runs.append((endpoint, contender, repeat, outcome))
                done += 1
                log(
                    f"[{done}/{total}] {LABELS[contender]:22} {ENDPOINT_LABELS[endpoint]:22}"
                    f" {outcome.requests_per_s:10,.1f} req/s  p99 {fmt(outcome.p99_ms, 2)} ms"
                    + (f"  errors {outcome.errors}" if outcome.errors else "")
                )


def render(r: Results, args: argparse.Namespace, env: dict[str, Any]) -> Report:
    report = Report("Servers: modelreg and the bare app under uvicorn and under granian")
    report.text(
        f"{r.size} models; wrk -t{args.threads} -c{args.connections} --latency, {args.duration:g}"
        f" s per run after a {args.warmup:g} s warm-up, {args.repeats} run(s) per cell, servers"
        f" interleaved; every figure is the median over the runs. One worker each, the server's"
        f" access log off, modelreg's own on (its default). {env['cpus']} CPUs, Python"
        f" {env['python']}, uvicorn {env['uvicorn']} (uvloop, httptools), granian"
        f" {env['granian']} (uvloop), {env['wrk']}. Load average {env['load_before']} before the"
        f" run, {env['load_after']} after it."
    )
    report.section("Throughput (requests/s, median) and ratios")
    report.table(
        ["endpoint", "bytes", *(LABELS[c] for c in CONTENDERS), *(p[2] for p in PAIRS)],
        [
            [
                ENDPOINT_LABELS[e],
                f"{r.body_bytes.get(e, 0):,}",
                *(fmt_rate(r.median(e, c, "requests_per_s")) for c in CONTENDERS),
                *(fmt_ratio(r.ratio(e, (p[0], p[1]))) for p in PAIRS),
            ]
            for e in ENDPOINTS
        ],
    )
    report.section("Latency (ms, median of each run's p50 / p99)")
    report.table(
        ["endpoint", *(LABELS[c] for c in CONTENDERS)],
        [
            [
                ENDPOINT_LABELS[e],
                *(
                    f"{fmt(r.median(e, c, 'p50_ms'), 2)} / {fmt(r.median(e, c, 'p99_ms'), 2)}"
                    for c in CONTENDERS
                ),
            ]
            for e in ENDPOINTS
        ],
    )
    if r.checks:
        report.notes(r.checks)
    report.add_targets([pays(r, e) for e in ENDPOINTS], title="Does it pay?")
    return report


def pays(r: Results, endpoint: str) -> Target:
    value = r.ratio(endpoint, PAYS)
    return Target(
        f"modelreg under granian ÷ under uvicorn, {ENDPOINT_LABELS[endpoint]} (above 1: it pays)",
        fmt_ratio(value),
        None if value is None else value > 1,
    )


def as_json(r: Results, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "servers",
        "settings": {
            "size": args.size,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "threads": args.threads,
        },
        "model_id": r.model_id,
        "ready_s": {k: rounded(v) for k, v in r.ready_s.items()},
        "body_bytes": r.body_bytes,
        "median": {
            ENDPOINT_LABELS[e]: {
                name(c): {
                    "requests_per_s": rounded(r.median(e, c, "requests_per_s"), 1),
                    "p50_ms": rounded(r.median(e, c, "p50_ms")),
                    "p99_ms": rounded(r.median(e, c, "p99_ms")),
                }
                for c in CONTENDERS
            }
            for e in ENDPOINTS
        },
        "ratios": {
            ENDPOINT_LABELS[e]: {
                f"{name(p[0])}/{name(p[1])}": rounded(r.ratio(e, (p[0], p[1]))) for p in PAIRS
            }
            for e in ENDPOINTS
        },
        "runs": [
            {"endpoint": ENDPOINT_LABELS[e], "server": name(c), "repeat": n, **o.as_dict()}
            for e, c, n, o in r.runs
        ],
        "checks": r.checks,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.arguments(__doc__)
    add = parser.add_argument
    add("--size", type=int, default=20, help="catalog size (models)")
    add("--connections", type=int, default=32, help="wrk connections")
    add("--duration", type=float, default=10.0, help="seconds per wrk run")
    add("--warmup", type=float, default=3.0, help="seconds of warm-up per server and endpoint")
    add("--repeats", type=int, default=5, help="runs per cell (median taken)")
    add("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.repeats < 1 or args.size < 1:
        parser.error("--size, --duration and --repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ensure_wrk()
    except SetupFailed as exc:
        log(f"cannot run: {exc}")
        return 2
    admin, env = harness.start(
        args.database_url,
        wrk=harness.wrk_version(),
        granian=importlib.metadata.version("granian"),
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-servers-") as tmp:
        results = run(args, admin, Path(tmp))
    env["wall_s"] = round(time.perf_counter() - started, 1)
    env["load_after"] = harness.load_average()
    return harness.finish(args, render(results, args, env), as_json(results, args), env)


if __name__ == "__main__":
    sys.exit(main())
