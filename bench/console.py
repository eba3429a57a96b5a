"""Benchmark the console's server-side rendering on a catalog of 2,000 models.

Through the app in this process, called on the benchmark's own event loop (httpx2's
ASGITransport over `create_app()`, lifespan included: no thread hop, no sockets), signed in as
an admin: the time from request to rendered HTML of
- the catalog page (`/console/models`, 50 rows, the count per state, the providers), also
  filtered by tier and capability and sorted by credits;
- a model page (`/console/models/{id}`: credits per tier, the access matrix, the replacement
  chain, the history), for a legacy model with a replacement and for an active one;
with `GET /healthz` through the same client as the floor. Targets: catalog < 50 ms, model page
< 30 ms (medians).

    .venv/bin/python bench/console.py                      # 2,000 models, 200 requests each
    .venv/bin/python bench/console.py --requests 50        # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import catalog_data
import harness
from harness import log
from modelreg.config import get_settings

TARGETS_MS = {"catalog": 50.0, "model": 30.0}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    return parser.parse_args(argv)


async def measure(client: Any, path: str, requests: int) -> dict[str, Any]:
    """Median, p90 and max of `requests` GETs of `path` (after two warm-ups), in ms."""
    for _ in range(2):
        response = await client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    times: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    return {
        "path": path,
        "requests": requests,
        "bytes": len(response.content),
        "p50_ms": harness.rounded(harness.percentile(times, 50)),
        "p90_ms": harness.rounded(harness.percentile(times, 90)),
        "max_ms": harness.rounded(max(times)),
    }


async def serve_and_measure(
    args: argparse.Namespace, token: str, series: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    import httpx2

    from modelreg.app import create_app

    app = create_app()
    results = []
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        page = await client.get("/console/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        signed = await client.post(
            "/console/sign-in",
            data={"token": token, "csrf_token": csrf.group(1)},
            headers={"Origin": "http://testserver"},
        )
        if signed.status_code != 303:
            raise RuntimeError(f"sign-in failed: {signed.status_code}")
        for kind, path in series:
            figures = {"kind": kind, **(await measure(client, path, args.requests))}
            target = TARGETS_MS.get(kind)
            figures["target_ms"] = target
            figures["meets_target"] = (
                None
                if target is None
                else figures["p50_ms"] is not None and figures["p50_ms"] < target
            )
            log(f"{path}: median {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms")
            results.append(figures)
    return results


def run(args: argparse.Namespace, url: Any, models: list[Any]) -> list[dict[str, Any]]:
    os.environ["MODELREG_DATABASE_URL"] = harness.url_text(url)
    os.environ["MODELREG_LOG_REQUESTS"] = "false"
    get_settings.cache_clear()
    token = harness.create_admin_token(url)
    legacy = next(m.id for m in models if m.is_legacy and not m.is_archived)
    active = next(m.id for m in models if not m.is_legacy and not m.is_archived)
    series = [
        ("floor", "/healthz"),
        ("catalog", "/console/models"),
        ("catalog", "/console/models?tier=pro&capability=vision&sort=credits&order=desc"),
        ("model", f"/console/models/{legacy}"),
        ("model", f"/console/models/{active}"),
    ]
    results = asyncio.run(serve_and_measure(args, token, series))
    get_settings.cache_clear()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    admin, env = harness.start(args.database_url, models=args.models)
    with harness.fresh_database(admin, "modelreg_bench_console") as url:
        models = catalog_data.load_catalog(url, args.models)
        results = run(args, url, models)
    env["load_after"] = harness.load_average()
    rows = [
        [
            r["path"],
            harness.fmt(r["p50_ms"]),
            harness.fmt(r["p90_ms"]),
            harness.fmt(r["max_ms"]),
            f"{r['bytes']:,}",
            ""
            if r["target_ms"] is None
            else f"< {r['target_ms']:.0f} ms: " + harness.pass_fail(r["meets_target"]),
        ]
        for r in results
    ]
    print(harness.table(["request", "median ms", "p90 ms", "max ms", "bytes", "target"], rows))
    print(f"\nenvironment: {json.dumps(env)}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"environment": env, "results": results}, indent=2))
    return 0 if all(r["meets_target"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
