"""Imports and exports at catalog size.

1. The exports (`/v1/export/litellm`, `/v1/export/litellm-config`, `/v1/export/openrouter`) of a
   2,000-model catalog under wrk, against the bare ASGI app (`minimal_app.py`) sending the same
   recorded bytes: `--repeats` runs per export and server, the two servers alternating; the
   medians and the ratio of the medians of requests per second (target: at least 0.8x).
2. Planning a 5,000-entry LiteLLM map against that catalog (target: < 2 s): the map is the
   catalog's own LiteLLM export with 500 prices raised by 10 %, plus new chat models, embedding
   entries and provider-prefixed duplicates up to 5,000 entries.
3. Applying 500 changes (target: < 5 s): that plan's 500 price changes, in one transaction,
   committed.

Steps 2 and 3 run `--repeats` times (medians): each round raises the same 500 prices by another
10 %, so that every plan has 500 changes against the catalog the last apply left.

    .venv/bin/python bench/imports.py                     # embedded PostgreSQL
    .venv/bin/python bench/imports.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker

import catalog_data
import harness
from harness import BENCH_DIR, Report, Server, Target, fmt, fmt_ratio, log
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from modelreg.imports import service
from modelreg.imports.sources import SourceName

TARGET_RATIO = 0.8
TARGET_PLAN_S = 2.0
TARGET_APPLY_S = 5.0

EXPORTS = {
    "litellm": "/v1/export/litellm",
    "litellm-config": "/v1/export/litellm-config",
    "openrouter": "/v1/export/openrouter",
}


def _start(name: str, argv: list[str], port: int, env: dict[str, str], workdir: Path) -> Server:
    server = Server(
        name=name,
        argv=argv,
        port=port,
        env={**os.environ, **env},
        cwd=workdir,
        log_path=workdir / f"{name}.log",
    )
    server.start()
    return server


def export_row(
    name: str,
    size: int,
    modelreg: Sequence[harness.WrkResult],
    minimal: Sequence[harness.WrkResult],
) -> dict[str, Any]:
    """One export's figures: every run, the medians and the ratio of the medians."""
    modelreg_rps = harness.median([r.requests_per_s for r in modelreg])
    minimal_rps = harness.median([r.requests_per_s for r in minimal])
    return {
        "export": name,
        "bytes": size,
        "modelreg_rps": modelreg_rps,
        "minimal_rps": minimal_rps,
        "ratio": harness.ratio(modelreg_rps, minimal_rps),
        "modelreg_p99_ms": harness.median([r.p99_ms for r in modelreg]),
        "minimal_p99_ms": harness.median([r.p99_ms for r in minimal]),
        "errors": sum(r.errors for r in (*modelreg, *minimal)),
        "runs": {
            "modelreg": [r.as_dict() for r in modelreg],
            "minimal": [r.as_dict() for r in minimal],
        },
    }


def bench_exports(
    url: URL, workdir: Path, *, connections: int, duration_s: float, repeats: int
) -> tuple[bytes, list[dict[str, Any]]]:
    """wrk on each export, `repeats` runs per server, modelreg and the minimal app alternating;
    and the LiteLLM export's bytes."""
    port = harness.free_port()
    modelreg = _start(
        "modelreg",
        harness.uvicorn_argv(sys.executable, "modelreg.app:create_app", port, "--factory"),
        port,
        {"MODELREG_DATABASE_URL": harness.url_text(url), "MODELREG_LOG_REQUESTS": "false"},
        workdir,
    )
    minimal: Server | None = None
    try:
        modelreg.wait_ready("/readyz")
        recorded: dict[str, dict[str, Any]] = {}
        for path in EXPORTS.values():
            reply = harness.http_request(port, "GET", path)  # the first request renders it
            assert reply.status == 200, reply.body[:300]
            kept = [[k, v] for k, v in reply.headers.items() if k in ("content-type", "etag")]
            recorded[path] = {
                "status": 200,
                "headers": kept,
                "body_b64": base64.b64encode(reply.body).decode(),
            }
        responses = workdir / "responses.json"
        responses.write_text(json.dumps(recorded))
        minimal_port = harness.free_port()
        minimal = _start(
            "minimal",
            harness.uvicorn_argv(
                sys.executable,
                "minimal_app:create_app",
                minimal_port,
                "--factory",
                "--app-dir",
                str(BENCH_DIR),
            ),
            minimal_port,
            {"MODELREG_BENCH_RESPONSES": str(responses)},
            workdir,
        )
        minimal.wait_ready(EXPORTS["litellm"])
        rows = []
        for name, path in EXPORTS.items():
            size = len(base64.b64decode(recorded[path]["body_b64"]))
            runs: dict[str, list[harness.WrkResult]] = {modelreg.name: [], minimal.name: []}
            for run in range(repeats):
                for server in (modelreg, minimal):  # alternating: drift hits both alike
                    target = f"http://{harness.LOOPBACK}:{server.port}{path}"
                    result = harness.run_wrk(target, connections=connections, duration_s=duration_s)
                    runs[server.name].append(result)
                    log(
                        f"{name} on {server.name}, run {run + 1}/{repeats}:"
                        f" {result.requests_per_s:,.0f} req/s"
                    )
            rows.append(export_row(name, size, runs[modelreg.name], runs[minimal.name]))
        return base64.b64decode(recorded[EXPORTS["litellm"]]["body_b64"]), rows
    finally:
        if minimal is not None:
            minimal.stop()
        modelreg.stop()


def upstream_map(
    exported: bytes, *, entries: int, changes: int, factor: Decimal = Decimal("1.1")
) -> bytes:
    """The catalog's LiteLLM export with `changes` prices multiplied by `factor`, grown to
    `entries` entries with new chat models, embeddings and provider-prefixed duplicates."""
    cost_map: dict[str, Any] = jsonb.loads(exported)
    changed = 0
    for entry in cost_map.values():
        if changed == changes:
            break
        if "deprecation_date" in entry or entry["input_cost_per_token"] == 0:
            continue
        entry["input_cost_per_token"] = entry["input_cost_per_token"] * factor
        changed += 1
    originals = list(cost_map.items())
    index = 0
    while len(cost_map) < entries:
        key, entry = originals[index % len(originals)]
        kind = index % 3
        if kind == 0:
            cost_map[f"{entry['litellm_provider']}/{key}"] = dict(entry)  # a duplicate
        elif kind == 1:
            cost_map[f"bench-embed-{index:06d}"] = {
                "max_input_tokens": 8191,
                "input_cost_per_token": Decimal("1.3e-07"),
                "output_cost_per_token": 0,
                "litellm_provider": entry["litellm_provider"],
                "mode": "embedding",
            }
        else:
            new = {k: v for k, v in entry.items() if k != "deprecation_date"}
            cost_map[f"bench-new-{index:06d}"] = new
        index += 1
    return jsonb.dumps(cost_map).encode()


async def bench_plan_apply(
    url: URL, exported: bytes, *, entries: int, changes: int, repeats: int
) -> dict[str, Any]:
    """`repeats` rounds of planning a map with `changes` prices 10 % above the catalog's and
    applying the plan's changes (its adds left out), each apply committed."""
    engine = async_engine(url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    try:
        plan_s: list[float] = []
        apply_s: list[float] = []
        summaries: list[dict[str, int]] = []
        applied: list[dict[str, int]] = []
        for round_ in range(repeats):
            factor = Decimal("1.1") ** (round_ + 1)
            body = upstream_map(exported, entries=entries, changes=changes, factor=factor)
            async with factory() as session, session.begin():
                started = time.perf_counter()
                plan = await service.plan(session, SourceName.LITELLM, body)
                plan_s.append(time.perf_counter() - started)
            summaries.append(dict(plan["summary"]))
            to_apply = jsonb.loads(jsonb.dumps({**plan, "add": []}))  # the changes only
            async with factory() as session:
                started = time.perf_counter()
                async with session.begin():
                    counts = await service.apply(session, to_apply, reason="bench")
                apply_s.append(time.perf_counter() - started)
            applied.append(counts)
            log(
                f"round {round_ + 1}/{repeats}: plan {plan_s[-1]:.3f} s,"
                f" apply {counts['change']} changes {apply_s[-1]:.3f} s"
            )
        return {
            "plan_s": plan_s,
            "plan_median_s": harness.median(plan_s),
            "summary": summaries[0],
            "summaries": summaries,
            "applied": applied,
            "apply_s": apply_s,
            "apply_median_s": harness.median(apply_s),
        }
    finally:
        await engine.dispose()


def _runs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def targets(exports: Sequence[dict[str, Any]], planned: dict[str, Any]) -> list[Target]:
    out = [
        Target(
            f"{r['export']}: modelreg req/s ≥ {TARGET_RATIO}x minimal (ratio of medians)",
            fmt_ratio(r["ratio"]),
            None if r["ratio"] is None else r["ratio"] >= TARGET_RATIO,
        )
        for r in exports
    ]
    plan_s = planned["plan_median_s"]
    apply_s = planned["apply_median_s"]
    out += [
        Target(f"plan < {TARGET_PLAN_S:g} s (median)", f"{plan_s:.3f} s", plan_s < TARGET_PLAN_S),
        Target(
            f"apply {planned['applied'][0]['change']} changes < {TARGET_APPLY_S:g} s (median)",
            f"{apply_s:.3f} s",
            apply_s < TARGET_APPLY_S,
        ),
    ]
    return out


def render(
    exports: Sequence[dict[str, Any]], planned: dict[str, Any], args: Any, env: dict[str, Any]
) -> Report:
    report = Report("Imports and exports")
    report.text(
        f"Catalog {args.models:,} models; LiteLLM map {args.entries:,} entries. wrk"
        f" {args.connections} connections, {args.duration:g} s per run, {args.repeats} run(s)"
        f" per export and server, the servers alternating; every figure is the median over"
        f" the runs. {env['cpus']} CPUs, Python {env['python']}. Load average"
        f" {env['load_before']} before the run, {env['load_after']} after it."
    )
    report.section("Exports (requests/s, median)")
    report.table(
        ["export", "bytes", "modelreg req/s", "minimal req/s", "ratio", "p99 ms (modelreg)"],
        [
            [
                r["export"],
                f"{r['bytes']:,}",
                harness.fmt_rate(r["modelreg_rps"]),
                harness.fmt_rate(r["minimal_rps"]),
                fmt_ratio(r["ratio"]),
                fmt(r["modelreg_p99_ms"]),
            ]
            for r in exports
        ],
    )
    summary = ", ".join(f"{n} {g}" for g, n in planned["summary"].items())
    report.section("Plan and apply (seconds)")
    report.table(
        ["step", "median", "runs", "target"],
        [
            [
                f"plan ({summary})",
                f"{planned['plan_median_s']:.3f}",
                _runs(planned["plan_s"]),
                f"< {TARGET_PLAN_S:g} s",
            ],
            [
                f"apply {planned['applied'][0]['change']} changes",
                f"{planned['apply_median_s']:.3f}",
                _runs(planned["apply_s"]),
                f"< {TARGET_APPLY_S:g} s",
            ],
        ],
    )
    errors = sum(r["errors"] for r in exports)
    report.notes([f"{errors:,} wrk errors (non-2xx/3xx or socket errors)"] if errors else [])
    report.add_targets(targets(exports, planned))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.arguments(__doc__)
    add = parser.add_argument
    add("--models", type=int, default=2000, help="catalog size")
    add("--entries", type=int, default=5000, help="entries of the LiteLLM map")
    add("--changes", type=int, default=500, help="prices the map changes")
    add("--connections", type=int, default=16, help="wrk connections")
    add("--duration", type=float, default=5.0, help="seconds per wrk run")
    add(
        "--repeats",
        type=int,
        default=3,
        help="wrk runs per export and server, and rounds of plan and apply (medians taken)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    admin, env = harness.start(args.database_url, wrk=harness.wrk_version())
    with (
        harness.fresh_database(admin, f"modelreg_bench_imports_{os.getpid()}") as url,
        tempfile.TemporaryDirectory(prefix="modelreg-bench-imports-") as workdir,
    ):
        catalog_data.load_catalog(url, args.models)
        exported, exports = bench_exports(
            url,
            Path(workdir),
            connections=args.connections,
            duration_s=args.duration,
            repeats=args.repeats,
        )
        planned = asyncio.run(
            bench_plan_apply(
                url, exported, entries=args.entries, changes=args.changes, repeats=args.repeats
            )
        )
    env["load_after"] = harness.load_average()
    document = {
        "benchmark": "imports",
        "settings": {
            k: getattr(args, k)
            for k in ("models", "entries", "changes", "connections", "duration", "repeats")
        },
        "exports": exports,
        "plan_apply": planned,
    }
    return harness.finish(args, render(exports, planned, args, env), document, env)


if __name__ == "__main__":
    sys.exit(main())
