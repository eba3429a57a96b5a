"""Imports and exports at catalog size.

1. The exports (`/v1/export/litellm`, `/v1/export/litellm-config`, `/v1/export/openrouter`) of a
   2,000-model catalog under wrk, against the bare ASGI app (`minimal_app.py`) sending the same
   recorded bytes: the ratio of requests per second (target: at least 0.8x).
2. Planning a 5,000-entry LiteLLM map against that catalog (target: < 2 s): the map is the
   catalog's own LiteLLM export with 500 prices raised by 10 %, plus new chat models, embedding
   entries and provider-prefixed duplicates up to 5,000 entries. Median of 3 plans.
3. Applying 500 changes (target: < 5 s): that plan's 500 price changes, in one transaction.

    .venv/bin/python bench/imports.py                     # embedded PostgreSQL
    .venv/bin/python bench/imports.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
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
from harness import BENCH_DIR, Server, fmt, fmt_ratio, log, table
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from modelreg.imports import service
from modelreg.imports.sources import SourceName

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


def bench_exports(
    url: URL, workdir: Path, *, connections: int, duration_s: float
) -> tuple[bytes, list[dict[str, Any]]]:
    """wrk on each export, modelreg against the minimal app; and the LiteLLM export's bytes."""
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
            results = {}
            for server in (modelreg, minimal):
                target = f"http://{harness.LOOPBACK}:{server.port}{path}"
                results[server.name] = harness.run_wrk(
                    target, connections=connections, duration_s=duration_s
                )
                log(f"{name} on {server.name}: {results[server.name].requests_per_s:,.0f} req/s")
            rows.append(
                {
                    "export": name,
                    "bytes": size,
                    "modelreg_rps": results["modelreg"].requests_per_s,
                    "minimal_rps": results["minimal"].requests_per_s,
                    "modelreg_p99_ms": results["modelreg"].p99_ms,
                    "minimal_p99_ms": results["minimal"].p99_ms,
                    "errors": results["modelreg"].errors + results["minimal"].errors,
                    "ratio": harness.ratio(
                        results["modelreg"].requests_per_s, results["minimal"].requests_per_s
                    ),
                }
            )
        return base64.b64decode(recorded[EXPORTS["litellm"]]["body_b64"]), rows
    finally:
        if minimal is not None:
            minimal.stop()
        modelreg.stop()


def upstream_map(exported: bytes, *, entries: int, changes: int) -> bytes:
    """The catalog's LiteLLM export with `changes` prices raised by 10 %, grown to `entries`
    entries with new chat models, embeddings and provider-prefixed duplicates."""
    cost_map: dict[str, Any] = jsonb.loads(exported)
    changed = 0
    for entry in cost_map.values():
        if changed == changes:
            break
        if "deprecation_date" in entry or entry["input_cost_per_token"] == 0:
            continue
        entry["input_cost_per_token"] = entry["input_cost_per_token"] * Decimal("1.1")
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


async def bench_plan_apply(url: URL, body: bytes, *, repeats: int) -> dict[str, Any]:
    engine = async_engine(url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    try:
        seconds = []
        plan: dict[str, Any] = {}
        for _ in range(repeats):
            async with factory() as session, session.begin():
                started = time.perf_counter()
                plan = await service.plan(session, SourceName.LITELLM, body)
                seconds.append(time.perf_counter() - started)
        summary = dict(plan["summary"])
        to_apply = {**plan, "add": []}  # the changes only
        async with factory() as session:
            started = time.perf_counter()
            async with session.begin():
                counts = await service.apply(
                    session, jsonb.loads(jsonb.dumps(to_apply)), reason="bench"
                )
            applied_s = time.perf_counter() - started
        return {
            "plan_s": seconds,
            "plan_median_s": statistics.median(seconds),
            "summary": summary,
            "applied": counts,
            "apply_s": applied_s,
        }
    finally:
        await engine.dispose()


def render(exports: Sequence[dict[str, Any]], planned: dict[str, Any], args: Any) -> str:
    lines = [
        f"catalog {args.models:,} models; LiteLLM map {args.entries:,} entries;"
        f" wrk {args.connections} connections, {args.duration:.0f} s per run",
        "",
        table(
            ["export", "bytes", "modelreg req/s", "minimal req/s", "ratio", "p99 ms (modelreg)"],
            [
                [
                    r["export"],
                    f"{r['bytes']:,}",
                    f"{r['modelreg_rps']:,.0f}",
                    f"{r['minimal_rps']:,.0f}",
                    fmt_ratio(r["ratio"]),
                    fmt(r["modelreg_p99_ms"]),
                ]
                for r in exports
            ],
        ),
        "",
        table(
            ["step", "seconds", "target"],
            [
                [
                    f"plan ({', '.join(f'{n} {g}' for g, n in planned['summary'].items())})",
                    f"{planned['plan_median_s']:.3f} (runs: "
                    + ", ".join(f"{s:.3f}" for s in planned["plan_s"])
                    + ")",
                    "< 2 s",
                ],
                [
                    f"apply {planned['applied']['change']} changes",
                    f"{planned['apply_s']:.3f}",
                    "< 5 s",
                ],
            ],
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    admin, env = harness.start(args.database_url)
    with (
        harness.fresh_database(admin, f"modelreg_bench_imports_{os.getpid()}") as url,
        tempfile.TemporaryDirectory(prefix="modelreg-bench-imports-") as workdir,
    ):
        catalog_data.load_catalog(url, args.models)
        exported, exports = bench_exports(
            url, Path(workdir), connections=args.connections, duration_s=args.duration
        )
        body = upstream_map(exported, entries=args.entries, changes=args.changes)
        planned = asyncio.run(bench_plan_apply(url, body, repeats=args.repeats))
    env["load_after"] = harness.load_average()
    print(render(exports, planned, args))
    print(f"\nload average before {env['load_before']}, after {env['load_after']}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        document = {"environment": env, "exports": exports, "plan_apply": planned}
        args.output.write_text(json.dumps(document, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
